/* bench_case.c — one case of `gradmap bench`: a batch size of one model on one backend and
 * precision. The backend is opened for the case alone, so that its peak device memory is the case's.
 * Order: the correctness check on the first batch (bench_check.c), then warm-up iterations, then
 * timed iterations, each one batch through every stage:
 *   decode (files only) -> preprocess -> forward / backward / maps (the explainer's stage timer,
 *   which synchronises the backend at each boundary) -> post (per image and method: normalise,
 *   resize to the image's size, jet overlay at 0.4, in memory, as `gradmap explain` does) ->
 *   write (PNG encoding of each overlay into a temporary folder under $TMPDIR or /tmp, removed at
 *   the end).
 * Peak resident memory is the process's ru_maxrss after the kernel's high-water mark was reset
 * (/proc/self/clear_refs) once the check had run, so it is this case's peak; where the reset is
 * refused it is the process's peak so far. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"
#include "explain/post.h"
#include "explain_args.h"
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
    gm_image *images;          /* the batch's originals (overlays are drawn on them) */
    float *input;              /* B x H x W x C, preprocessed */
    float *scratch, *full;     /* picture buffers: a map, a map at the image's size */
    uint8_t *pixels;
    size_t pixels_cap;
    char dir[512];             /* temporary PNG folder, "" until created */
    gm_bench_result *r;
} gm_bench_case;

static void gm_png_path(const gm_bench_case *c, int i, gm_method m, char *path, size_t size) {
    snprintf(path, size, "%s/%d_%s.png", c->dir, i, gm_method_name(m));
}

static gm_status gm_case_open(gm_bench_case *c) {
    const gm_graph *g = c->g;
    gm_backend_config bc = {.threads = c->a->threads, .precision = c->a->precision};
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
    c->input = malloc((size_t)c->B * in_size * sizeof *c->input);
    c->scratch = malloc(map_max * sizeof *c->scratch);
    if (!c->images || !c->input || !c->scratch) return gm_error(GM_ERR_NOMEM, "out of memory for a batch of %d", c->B);
    for (int i = 0; c->paths->count == 0 && i < c->B; ++i)
        GM_TRY(gm_bench_synthetic_image(c->a->seed, i, g->input_w, g->input_h, &c->images[i]));
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
    for (int i = 0; c->images && i < c->B; ++i) gm_image_free(&c->images[i]);
    free(c->images);
    free(c->input);
    free(c->scratch);
    free(c->full);
    free(c->pixels);
    gm_explainer_free(&c->x);
    gm_backend_close(&c->be);
}

/* Decode (files only) and preprocess the batch of iteration `iter`. */
static gm_status gm_case_load(gm_bench_case *c, long long iter, double *stage) {
    double t0 = gm_cli_now();
    if (c->paths->count > 0) {
        GM_TRY(gm_bench_decode(c->paths, iter * c->B, c->B, c->images));
        stage[GM_STAGE_DECODE] += gm_cli_now() - t0;
    }
    double t1 = gm_cli_now();
    GM_TRY(gm_bench_preprocess(c->g, c->images, c->B, c->input));
    stage[GM_STAGE_PREPROCESS] += gm_cli_now() - t1;
    return GM_OK;
}

static gm_status gm_case_explain(gm_bench_case *c, double *stage, gm_explain_batch *out) {
    gm_explain_timing before, after;
    gm_explainer_timing(c->x, &before);
    GM_TRY(gm_explainer_run(c->x, c->input, c->B, NULL, out));
    gm_explainer_timing(c->x, &after);
    stage[GM_STAGE_FORWARD] += after.forward_s - before.forward_s;
    stage[GM_STAGE_BACKWARD] += after.backward_s - before.backward_s;
    stage[GM_STAGE_MAPS] += after.maps_s - before.maps_s;
    return GM_OK;
}

/* Post-processing and PNG writing of every image's maps (one target class per image). */
static gm_status gm_case_pictures(gm_bench_case *c, const gm_explain_batch *out, double *stage) {
    for (int i = 0; i < c->B; ++i) {
        const gm_image *img = &c->images[i];
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

/* One whole iteration; stage[] receives its seconds per stage and *wall its end-to-end time. */
static gm_status gm_case_iteration(gm_bench_case *c, long long iter, double *stage, double *wall) {
    for (int s = 0; s < GM_STAGE_COUNT; ++s) stage[s] = 0.0;
    double t0 = gm_cli_now();
    gm_explain_batch out;
    GM_TRY(gm_case_load(c, iter, stage));
    GM_TRY(gm_case_explain(c, stage, &out));
    GM_TRY(gm_case_pictures(c, &out, stage));
    *wall = gm_cli_now() - t0;
    return GM_OK;
}

/* Resets the kernel's resident high-water mark (ru_maxrss follows it); 0 where refused. */
static int gm_reset_peak_rss(void) {
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return 0;
    int ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok;
}

static double gm_peak_rss_mib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* kilobytes on Linux */
}

static long gm_minor_faults(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

static gm_status gm_case_measure(gm_bench_case *c) {
    gm_bench_result *r = c->r;
    const int N = c->a->iters, B = c->B;
    r->threads = omp_get_max_threads();
    r->backend_name = c->be->ops->name;
    if (c->be->ops->describe) GM_TRY(c->be->ops->describe(c->be, r->device_line, sizeof r->device_line));
    double stage[GM_STAGE_COUNT] = {0}, wall = 0.0;
    gm_explain_batch out;
    GM_TRY(gm_case_load(c, 0, stage));
    GM_TRY(gm_explainer_run(c->x, c->input, B, NULL, &out));
    GM_TRY(gm_bench_check_case(c->a, c->g, c->be, &c->cfg, c->x, c->input, B, &out, r));
    gm_reset_peak_rss();
    gm_explainer_set_timing(c->x, 1);
    for (int it = 0; it < c->a->warmup; ++it) GM_TRY(gm_case_iteration(c, it, stage, &wall));
    double *per = calloc((size_t)N * (GM_STAGE_COUNT + 2), sizeof *per); /* stage-major, then wall, ips */
    if (!per) return gm_error(GM_ERR_NOMEM, "out of memory for %d iterations", N);
    long faults = 0;
    gm_status st = GM_OK;
    for (int it = 0; it < N && st == GM_OK; ++it) {
        long f0 = gm_minor_faults();
        st = gm_case_iteration(c, (long long)c->a->warmup + it, stage, &wall);
        faults += gm_minor_faults() - f0;
        for (int s = 0; s < GM_STAGE_COUNT; ++s) per[(size_t)s * N + it] = stage[s];
        per[(size_t)GM_STAGE_COUNT * N + it] = wall;
        per[(size_t)(GM_STAGE_COUNT + 1) * N + it] = B / wall;
    }
    if (st == GM_OK) {
        double *ips = per + (size_t)(GM_STAGE_COUNT + 1) * N;
        r->ips_median = gm_cli_median(ips, N);
        r->ips_min = ips[0], r->ips_max = ips[N - 1]; /* sorted by gm_cli_median */
        for (int s = 0; s < GM_STAGE_COUNT; ++s) r->stage_s[s] = gm_cli_median(per + (size_t)s * N, N);
        double wall_median = gm_cli_median(per + (size_t)GM_STAGE_COUNT * N, N);
        double compute = r->stage_s[GM_STAGE_FORWARD] + r->stage_s[GM_STAGE_BACKWARD] + r->stage_s[GM_STAGE_MAPS];
        r->macs_per_image = gm_explainer_macs_per_image(c->x);
        r->gflops = compute > 0.0 ? 2.0 * r->macs_per_image * B / compute / 1e9 : NAN;
        r->gflops_end_to_end = 2.0 * r->macs_per_image * B / wall_median / 1e9;
        r->minor_faults_per_iter = (double)faults / N;
        r->peak_rss_mib = gm_peak_rss_mib();
        r->peak_device_mib = NAN;
        size_t bytes = 0;
        if (c->be->ops->memory_peak && (st = c->be->ops->memory_peak(c->be, &bytes)) == GM_OK)
            r->peak_device_mib = (double)bytes / 1048576.0;
    }
    free(per);
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
