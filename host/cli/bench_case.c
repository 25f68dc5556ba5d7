/* bench_case.c — one case of `gradmap bench`: a batch size of one model on one backend and
 * precision. The backend is opened for the case alone, so that its peak device memory is the case's.
 * Order: the correctness check on the first batch (bench_check.c), then warm-up iterations, then
 * timed iterations, then (--profile) the profiled iterations, each one batch through every stage:
 *   load -> forward / backward / maps (the explainer's stage timer, which synchronises the backend
 *   at each boundary) -> post (per image and method: normalise, resize to the image's size, jet
 *   overlay at 0.4, in memory, as `gradmap explain` does) -> write (PNG encoding of each overlay
 *   into a temporary folder under $TMPDIR or /tmp, removed at the end).
 * Load: with --images, `gradmap explain`'s loader (explain_loader.c) decodes, resizes and
 * preprocesses the NEXT batch on its one thread while this batch is computed and written, and the
 * iteration only waits for it when it is late; the decode and preprocess stages are the loader's
 * seconds, off the iteration's critical path. Thread budget: the compute's threads (--threads, or
 * all cores) plus that one loader thread, which is light (decoding and resizing 8 photographs takes
 * tens of ms, against seconds of compute on a CPU) and sleeps once its batch is ready. Synthetic
 * images are preprocessed inline, at the start of the iteration.
 * Peak resident memory is the process's ru_maxrss after the kernel's high-water mark was reset
 * (/proc/self/clear_refs) once the check had run, so it is this case's peak; where the reset is
 * refused it is the process's peak so far. */
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "explain/post.h"
#include "explain_args.h"
#include "explain_loader.h"
#include "host/png_write.h"

typedef struct gm_bench_case {
    const gm_bench_args *a;
    const gm_graph *g;
    const gm_path_list *paths; /* count 0: synthetic images */
    int B;
    gm_backend *be;
    gm_explainer *x;
    gm_explain_config cfg;
    float black[3];
    gm_image *images;          /* synthetic images: the batch's originals (overlays are drawn on them) */
    float *input;              /* synthetic images: B x H x W x C, preprocessed */
    gm_explain_args load_args; /* --images: what the loader reads (keras's nearest resize, --strict) */
    int *items;                /* --images: file index of every image the case loads, in order */
    gm_loader *loader;
    const gm_image *batch_images; /* the current batch's originals and input (the loader's or ours) */
    const float *batch_input;
    float *scratch, *full;     /* picture buffers: a map, a map at the image's size */
    uint8_t *pixels;
    size_t pixels_cap;
    char dir[512];             /* temporary PNG folder, "" until created */
    gm_bench_result *r;
} gm_bench_case;

static void gm_png_path(const gm_bench_case *c, int i, gm_method m, char *path, size_t size) {
    snprintf(path, size, "%s/%d_%s.png", c->dir, i, gm_method_name(m));
}

/* The loader gets every batch the case will run, cycling through the files: the check's, the warm-up
 * and timed iterations' and the profiled ones. */
static gm_status gm_case_open_loader(gm_bench_case *c) {
    const gm_bench_args *a = c->a;
    long long batches = 1LL + a->warmup + a->iters + (a->profile ? GM_BENCH_PROFILE_ITERS : 0);
    if (batches * c->B > INT_MAX)
        return gm_error(GM_ERR_INVALID_ARG, "--images: %lld batches of %d images are too many", batches, c->B);
    int n = (int)(batches * c->B);
    c->items = malloc((size_t)n * sizeof *c->items);
    if (!c->items) return gm_error(GM_ERR_NOMEM, "out of memory for %d image indices", n);
    for (int i = 0; i < n; ++i) c->items[i] = i % c->paths->count;
    memset(&c->load_args, 0, sizeof c->load_args);
    c->load_args.resize = GM_RESIZE_NEAREST;
    c->load_args.strict = 1; /* an unreadable file fails the case, as the bench always did */
    return gm_loader_create(&c->load_args, c->g, c->paths, c->items, n, c->B, &c->loader);
}

static gm_status gm_case_open(gm_bench_case *c) {
    const gm_graph *g = c->g;
    gm_backend_config bc = {.threads = c->a->threads,
                            .precision = c->a->precision,
                            .conv_algo = c->a->conv_algo,
                            .fp32_forward = gm_methods_need_exact_forward(c->a->methods)};
    GM_TRY(gm_backend_open(c->a->device, &bc, &c->be));
    gm_explain_config_default(&c->cfg);
    c->cfg.methods = c->a->methods;
    c->cfg.max_batch = c->B;
    const uint8_t black_rgb[3] = {0, 0, 0};
    gm_image_preprocess(black_rgb, 1, g->preprocess, c->black);
    c->cfg.black_pixel = c->black;
    GM_TRY(gm_explainer_create(g, c->be, &c->cfg, &c->x));
    size_t in_size = (size_t)g->input_h * g->input_w * g->input_c, map_max = (size_t)g->input_h * g->input_w;
    c->images = calloc((size_t)c->B, sizeof *c->images);
    if (c->paths->count == 0) c->input = malloc((size_t)c->B * in_size * sizeof *c->input);
    c->scratch = malloc(map_max * sizeof *c->scratch);
    if (!c->images || (c->paths->count == 0 && !c->input) || !c->scratch)
        return gm_error(GM_ERR_NOMEM, "out of memory for a batch of %d", c->B);
    for (int i = 0; c->paths->count == 0 && i < c->B; ++i)
        GM_TRY(gm_bench_synthetic_image(c->a->seed, i, g->input_w, g->input_h, &c->images[i]));
    c->batch_images = c->images;
    c->batch_input = c->input;
    if (c->paths->count > 0) GM_TRY(gm_case_open_loader(c));
    const char *tmp = getenv("TMPDIR");
    tmp = tmp && tmp[0] ? tmp : "/tmp";
    if (snprintf(c->dir, sizeof c->dir, "%s/gradmap-bench-XXXXXX", tmp) >= (int)sizeof c->dir || !mkdtemp(c->dir)) {
        c->dir[0] = '\0';
        return gm_error(GM_ERR_IO, "cannot create a temporary folder under %s for the PNGs", tmp);
    }
    return GM_OK;
}

static void gm_case_close(gm_bench_case *c) {
    if (c->dir[0]) {
        char path[768], tmp[784];
        for (int i = 0; i < c->B; ++i)
            for (int k = 0; k < c->r->n_methods; ++k) {
                gm_png_path(c, i, c->r->methods[k], path, sizeof path);
                snprintf(tmp, sizeof tmp, "%s.tmp", path);
                unlink(path);
                unlink(tmp);
            }
        rmdir(c->dir);
    }
    gm_loader_free(&c->loader);
    free(c->items);
    for (int i = 0; c->images && i < c->B; ++i) gm_image_free(&c->images[i]);
    free(c->images);
    free(c->input);
    free(c->scratch);
    free(c->full);
    free(c->pixels);
    gm_explainer_free(&c->x);
    gm_backend_close(&c->be);
}

/* The next batch: the loader's (waiting for it when it is late), or the synthetic images
 * preprocessed here. */
static gm_status gm_case_load(gm_bench_case *c, double *stage) {
    if (!c->loader) {
        double t0 = gm_cli_now();
        GM_TRY(gm_bench_preprocess(c->g, c->images, c->B, c->input));
        stage[GM_STAGE_PREPROCESS] += gm_cli_now() - t0;
        return GM_OK;
    }
    gm_loaded_batch *lb = NULL;
    GM_TRY(gm_loader_next(c->loader, &lb));
    if (!lb || lb->count != c->B) return gm_error(GM_ERR_INVALID_ARG, "the bench's image loader ran out of batches");
    if (lb->stopped_at >= 0) return gm_error(lb->stop_status, "%s", lb->messages[lb->stopped_at]);
    stage[GM_STAGE_DECODE] += lb->decode_s;
    stage[GM_STAGE_PREPROCESS] += lb->preprocess_s;
    c->batch_images = lb->images;
    c->batch_input = lb->input;
    return GM_OK;
}

static gm_status gm_case_explain(gm_bench_case *c, double *stage, gm_explain_batch *out) {
    gm_explain_timing before, after;
    gm_explainer_timing(c->x, &before);
    GM_TRY(gm_explainer_run(c->x, c->batch_input, c->B, NULL, out));
    gm_explainer_timing(c->x, &after);
    stage[GM_STAGE_FORWARD] += after.forward_s - before.forward_s;
    stage[GM_STAGE_BACKWARD] += after.backward_s - before.backward_s;
    stage[GM_STAGE_MAPS] += after.maps_s - before.maps_s;
    return GM_OK;
}

/* Post-processing and PNG writing of every image's maps (one target class per image). */
static gm_status gm_case_pictures(gm_bench_case *c, const gm_explain_batch *out, double *stage) {
    for (int i = 0; i < c->B; ++i) {
        const gm_image *img = &c->batch_images[i];
        size_t need = (size_t)img->width * img->height;
        if (need > c->pixels_cap) {
            free(c->full);
            free(c->pixels);
            c->full = malloc(need * sizeof *c->full);
            c->pixels = malloc(need * 3);
            c->pixels_cap = c->full && c->pixels ? need : 0;
            if (!c->pixels_cap)
                return gm_error(GM_ERR_NOMEM, "out of memory for %dx%d pictures", img->width, img->height);
        }
        for (int k = 0; k < c->r->n_methods; ++k) {
            gm_method m = c->r->methods[k];
            int h, w;
            gm_explainer_map_size(c->x, m, &h, &w);
            const float *map = out->maps[m] + (size_t)i * h * w;
            double t0 = gm_cli_now();
            GM_TRY(gm_post_picture_map(GM_COMPAT_GRADMAP, gm_explain_map_kind(m), map, h, w, c->scratch, c->full,
                                       img->height, img->width));
            GM_TRY(gm_post_overlay(c->full, img->height, img->width, img, GM_COLORMAP_JET, GM_POST_DEFAULT_ALPHA,
                                   GM_BILINEAR_CV2, c->pixels));
            double t1 = gm_cli_now();
            char path[768];
            gm_png_path(c, i, m, path, sizeof path);
            GM_TRY(gm_png_write(path, c->pixels, img->width, img->height, 3));
            stage[GM_STAGE_POST] += t1 - t0;
            stage[GM_STAGE_WRITE] += gm_cli_now() - t1;
        }
    }
    return GM_OK;
}

/* What one iteration measured besides its stages. */
typedef struct gm_iter_figures {
    double wall;              /* the whole iteration */
    double to_maps;           /* load (or the wait for the loader) + forward + backward + maps */
    double load_wait;         /* the load alone */
    double heap_growth, heap_growth_compute;   /* bytes: whole iteration, compute stages */
    long faults, faults_compute;
} gm_iter_figures;

/* One whole iteration; stage[] receives its seconds per stage. The memory counters are read outside
 * the timed spans, so reading them costs the figures nothing. */
static gm_status gm_case_iteration(gm_bench_case *c, double *stage, gm_iter_figures *f) {
    for (int s = 0; s < GM_STAGE_COUNT; ++s) stage[s] = 0.0;
    gm_explain_batch out;
    double heap0 = gm_bench_heap_in_use();
    long faults0 = gm_bench_minor_faults();
    double t0 = gm_cli_now();
    GM_TRY(gm_case_load(c, stage));
    double t1 = gm_cli_now();
    double heap1 = gm_bench_heap_in_use();
    long faults1 = gm_bench_minor_faults();
    double t2 = gm_cli_now();
    GM_TRY(gm_case_explain(c, stage, &out));
    double t3 = gm_cli_now();
    double heap2 = gm_bench_heap_in_use();
    long faults2 = gm_bench_minor_faults();
    double t4 = gm_cli_now();
    GM_TRY(gm_case_pictures(c, &out, stage));
    double t5 = gm_cli_now();
    f->load_wait = t1 - t0;
    f->to_maps = (t1 - t0) + (t3 - t2);
    f->wall = f->to_maps + (t5 - t4);
    f->heap_growth = gm_bench_heap_in_use() - heap0;
    f->heap_growth_compute = heap2 - heap1;
    f->faults = gm_bench_minor_faults() - faults0;
    f->faults_compute = faults2 - faults1;
    return GM_OK;
}

/* GM_BENCH_PROFILE_ITERS more iterations with the engine's per-node profile on. */
static gm_status gm_case_profile(gm_bench_case *c) {
    gm_engine *e = gm_explainer_engine(c->x);
    gm_bench_profile *p = &c->r->profile;
    GM_TRY(gm_bench_profile_init(p, c->g, GM_BENCH_PROFILE_ITERS));
    double stage[GM_STAGE_COUNT];
    gm_iter_figures f;
    gm_status st = GM_OK;
    for (int it = 0; it < GM_BENCH_PROFILE_ITERS && st == GM_OK; ++it) {
        gm_engine_set_profile(e, 1);
        st = gm_case_iteration(c, stage, &f);
        if (st == GM_OK) gm_bench_profile_add(p, gm_engine_profile(e), stage);
    }
    gm_engine_set_profile(e, 0);
    if (st == GM_OK) st = gm_bench_profile_finish(p, c->g, e);
    return st;
}

/* Columns of the per-iteration figures after the stages (each N values, sorted by the medians). */
enum {
    GM_COL_WALL = GM_STAGE_COUNT,
    GM_COL_IPS,
    GM_COL_TO_MAPS_IPS,
    GM_COL_COMPUTE_IPS,
    GM_COL_WAIT,
    GM_COL_HEAP,
    GM_COL_HEAP_COMPUTE,
    GM_COL_COUNT
};

static gm_status gm_case_measure(gm_bench_case *c) {
    gm_bench_result *r = c->r;
    const int N = c->a->iters, B = c->B;
    r->threads = omp_get_max_threads();
    r->loader = c->loader != NULL;
    r->backend_name = c->be->ops->name;
    if (c->be->ops->describe) GM_TRY(c->be->ops->describe(c->be, r->device_line, sizeof r->device_line));
    double stage[GM_STAGE_COUNT] = {0};
    gm_iter_figures f;
    gm_explain_batch out;
    GM_TRY(gm_case_load(c, stage));
    GM_TRY(gm_explainer_run(c->x, c->batch_input, B, NULL, &out));
    GM_TRY(gm_bench_check_case(c->a, c->g, c->be, &c->cfg, c->x, c->batch_input, B, &out, r));
    gm_bench_reset_peak_rss();
    gm_explainer_set_timing(c->x, 1);
    for (int it = 0; it < c->a->warmup; ++it) GM_TRY(gm_case_iteration(c, stage, &f));
    double *per = calloc((size_t)N * GM_COL_COUNT, sizeof *per); /* column-major: N values per column */
    if (!per) return gm_error(GM_ERR_NOMEM, "out of memory for %d iterations", N);
    long faults = 0, faults_compute = 0;
    gm_status st = GM_OK;
    for (int it = 0; it < N && st == GM_OK; ++it) {
        if ((st = gm_case_iteration(c, stage, &f)) != GM_OK) break;
        faults += f.faults;
        faults_compute += f.faults_compute;
        double compute = stage[GM_STAGE_FORWARD] + stage[GM_STAGE_BACKWARD] + stage[GM_STAGE_MAPS];
        for (int s = 0; s < GM_STAGE_COUNT; ++s) per[(size_t)s * N + it] = stage[s];
        per[(size_t)GM_COL_WALL * N + it] = f.wall;
        per[(size_t)GM_COL_IPS * N + it] = B / f.wall;
        per[(size_t)GM_COL_TO_MAPS_IPS * N + it] = B / f.to_maps;
        per[(size_t)GM_COL_COMPUTE_IPS * N + it] = compute > 0.0 ? B / compute : NAN;
        per[(size_t)GM_COL_WAIT * N + it] = f.load_wait;
        per[(size_t)GM_COL_HEAP * N + it] = f.heap_growth;
        per[(size_t)GM_COL_HEAP_COMPUTE * N + it] = f.heap_growth_compute;
    }
    if (st == GM_OK) {
        double *ips = per + (size_t)GM_COL_IPS * N, *heap = per + (size_t)GM_COL_HEAP * N;
        double *heap_compute = per + (size_t)GM_COL_HEAP_COMPUTE * N;
        r->ips_median = gm_cli_median(ips, N);
        r->ips_min = ips[0], r->ips_max = ips[N - 1]; /* sorted by gm_cli_median */
        for (int s = 0; s < GM_STAGE_COUNT; ++s) r->stage_s[s] = gm_cli_median(per + (size_t)s * N, N);
        double wall_median = gm_cli_median(per + (size_t)GM_COL_WALL * N, N);
        double compute = r->stage_s[GM_STAGE_FORWARD] + r->stage_s[GM_STAGE_BACKWARD] + r->stage_s[GM_STAGE_MAPS];
        r->compute_ips = gm_cli_median(per + (size_t)GM_COL_COMPUTE_IPS * N, N);
        r->files_to_maps_ips = gm_cli_median(per + (size_t)GM_COL_TO_MAPS_IPS * N, N);
        r->load_wait_s = gm_cli_median(per + (size_t)GM_COL_WAIT * N, N);
        r->heap_growth_median = gm_cli_median(heap, N);
        r->heap_growth_max = heap[N - 1];
        r->heap_growth_compute_median = gm_cli_median(heap_compute, N);
        r->heap_growth_compute_max = heap_compute[N - 1];
        r->macs_per_image = gm_explainer_macs_per_image(c->x);
        r->gflops = compute > 0.0 ? 2.0 * r->macs_per_image * B / compute / 1e9 : NAN;
        r->gflops_end_to_end = 2.0 * r->macs_per_image * B / wall_median / 1e9;
        r->minor_faults_per_iter = (double)faults / N;
        r->minor_faults_compute_per_iter = (double)faults_compute / N;
        r->peak_rss_mib = gm_bench_peak_rss_mib();
        r->peak_device_mib = NAN;
        size_t bytes = 0;
        if (c->be->ops->memory_peak && (st = c->be->ops->memory_peak(c->be, &bytes)) == GM_OK)
            r->peak_device_mib = (double)bytes / 1048576.0;
    }
    free(per);
    /* After the figures above: profiling synchronises after every layer and must not touch them. */
    if (st == GM_OK && c->a->profile) st = gm_case_profile(c);
    return st;
}

gm_status gm_bench_run_case(const gm_bench_args *a, const gm_graph *g, const gm_path_list *paths, int batch,
                            gm_bench_result *r) {
    memset(r, 0, sizeof *r);
    r->batch = batch;
    unsigned produced = a->methods;
    if (produced & (1u << GM_METHOD_GUIDEDGRADCAM)) produced |= 1u << GM_METHOD_GRADCAM; /* as explain writes */
    for (int m = 0; m < GM_METHOD_COUNT; ++m)
        if ((produced >> m) & 1u) r->methods[r->n_methods++] = (gm_method)m;
    gm_bench_case c = {.a = a, .g = g, .paths = paths, .B = batch, .r = r};
    gm_status st = gm_case_open(&c);
    if (st == GM_OK) st = gm_case_measure(&c);
    gm_case_close(&c);
    return st;
}

void gm_bench_result_free(gm_bench_result *r) { gm_bench_profile_free(&r->profile); }
