/* cmd_explain.c — `gradmap explain MODEL INPUT... --out DIR`: explains every image with the
 * requested methods in batches and appends each batch durably to DIR/results.h5, DIR/summary.csv
 * and DIR/png/. A corrupt or missing image becomes an error record while its batch goes on
 * (--strict stops); a killed run loses at most the batch in flight and --resume finishes it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "explain_args.h"
#include "explain_loader.h"
#include "host/results.h"

typedef struct gm_run {
    gm_explain_args a;
    gm_path_list paths;
    gm_graph *g;
    gm_backend *be;
    gm_explainer *x;
    gm_results *r;
    int batch, n_methods, K, T, failed, done;
    gm_method methods[GM_METHOD_COUNT];
    int *classes;               /* explicit target classes per image of a batch, or NULL (top-k) */
    /* per batch, indexed by item (the decoded images and inputs are the loader's) */
    int *topk_class, *target_class;
    float *topk_prob, *target_logit, *maps[GM_METHOD_COUNT], *scratch;
    uint8_t *pixels;     /* picture buffers, grown to the largest image seen */
    float *full;
    size_t pixels_cap;
} gm_run;

/* --class top1 | INDEX | NAME. */
static gm_status gm_resolve_class(gm_run *run, int *cls) {
    *cls = -1;
    const char *spec = run->a.class_spec;
    if (!spec || !strcmp(spec, "top1")) return GM_OK;
    int n_classes = run->g->nodes[run->g->logits_node].out.c;
    char *end = NULL;
    long v = strtol(spec, &end, 10);
    if (end != spec && *end == '\0') {
        if (v < 0 || v >= n_classes) return gm_error(GM_ERR_INVALID_ARG, "--class %ld: outside 0..%d", v, n_classes - 1);
        *cls = (int)v;
        return GM_OK;
    }
    for (int i = 0; i < run->g->n_class_names; ++i)
        if (!strcmp(run->g->class_names[i], spec)) {
            *cls = i;
            return GM_OK;
        }
    return gm_error(GM_ERR_NOT_FOUND, "--class '%s' is not a class name of this model%s", spec,
                    run->g->n_class_names ? "" : " (it has no names; give an index or --labels FILE)");
}

static gm_status gm_run_alloc(gm_run *run) {
    int B = run->batch, T = run->T, K = run->K;
    run->topk_class = calloc((size_t)B * K, sizeof *run->topk_class);
    run->topk_prob = calloc((size_t)B * K, sizeof *run->topk_prob);
    run->target_class = calloc((size_t)B * T, sizeof *run->target_class);
    run->target_logit = calloc((size_t)B * T, sizeof *run->target_logit);
    run->classes = calloc((size_t)B * T, sizeof *run->classes);
    size_t map_max = 1;
    for (int k = 0; k < run->n_methods; ++k) {
        int h, w;
        gm_explainer_map_size(run->x, run->methods[k], &h, &w);
        run->maps[k] = calloc((size_t)B * T * h * w, sizeof(float));
        if (!run->maps[k]) return gm_error(GM_ERR_NOMEM, "out of memory for maps");
        if ((size_t)h * w > map_max) map_max = (size_t)h * w;
    }
    run->scratch = malloc(map_max * sizeof(float));
    if (!run->topk_class || !run->topk_prob || !run->target_class || !run->target_logit || !run->classes ||
        !run->scratch)
        return gm_error(GM_ERR_NOMEM, "out of memory for a batch of %d images", B);
    return GM_OK;
}

static void gm_run_free(gm_run *run) {
    void *owned[] = {run->topk_class, run->topk_prob, run->target_class, run->target_logit, run->classes,
                     run->scratch};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; ++i) free(owned[i]);
    free(run->pixels);
    free(run->full);
    for (int k = 0; k < GM_METHOD_COUNT; ++k) free(run->maps[k]);
    gm_explainer_free(&run->x);
    gm_backend_close(&run->be);
    gm_graph_free(&run->g);
    gm_path_list_free(&run->paths);
    free(run->a.inputs);
}

static void gm_stem(const char *path, long long row, char *out, size_t cap) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char name[256];
    snprintf(name, sizeof name, "%s", base);
    char *dot = strrchr(name, '.');
    if (dot && dot != name) *dot = '\0';
    for (char *p = name; *p; ++p)
        if (*p == ' ' || *p == '"' || *p == '\\') *p = '_';
    snprintf(out, cap, "%06lld_%s", row, name);
}

/* Explains one loaded batch and appends it to the outputs. Unreadable items become error rows;
 * with --strict the first one stops the run before anything of its batch is written. */
static gm_status gm_run_batch(gm_run *run, const gm_loaded_batch *lb) {
    const gm_graph *g = run->g;
    int T = run->T, K = run->K, C = g->nodes[g->logits_node].out.c, count = lb->count, valid = lb->valid;
    for (int i = 0; i < count; ++i) {
        if (lb->stopped_at >= 0 && i > lb->stopped_at) break;
        if (lb->ok[i]) continue;
        ++run->failed;
        if (!run->a.quiet) fprintf(stderr, "gradmap: skipped: %s\n", lb->messages[i]);
        if (i == lb->stopped_at) return gm_error(lb->stop_status, "%s", lb->messages[i]);
    }
    gm_explain_batch out;
    memset(&out, 0, sizeof out);
    if (valid > 0) {
        const int *cls = NULL;
        if (run->a.class_spec && strcmp(run->a.class_spec, "top1") != 0) cls = run->classes;
        GM_TRY(gm_explainer_run(run->x, lb->input, valid, cls, &out));
    }
    long long base_row = gm_results_count(run->r);
    for (int i = 0; i < count; ++i) {
        int s = lb->slot[i], ok = lb->ok[i];
        for (int k = 0; k < K; ++k) run->topk_class[i * K + k] = -1, run->topk_prob[i * K + k] = 0.0f;
        if (ok) { /* top-K by probability */
            const float *p = out.probs + (size_t)s * C;
            gm_top_k(p, C, K, run->topk_class + i * K);
            for (int k = 0; k < K; ++k) run->topk_prob[i * K + k] = p[run->topk_class[i * K + k]];
        }
        for (int t = 0; t < T; ++t) {
            run->target_class[i * T + t] = ok ? out.targets[s * T + t] : -1;
            run->target_logit[i * T + t] = ok ? out.logits[(size_t)s * C + out.targets[s * T + t]] : 0.0f;
        }
        char stem[320];
        gm_stem(lb->paths[i], base_row + i, stem, sizeof stem);
        for (int k = 0; k < run->n_methods; ++k) {
            int h, w;
            gm_explainer_map_size(run->x, run->methods[k], &h, &w);
            size_t per = (size_t)T * h * w;
            if (!ok) {
                memset(run->maps[k] + (size_t)i * per, 0, per * sizeof(float));
                continue;
            }
            memcpy(run->maps[k] + (size_t)i * per, out.maps[run->methods[k]] + (size_t)s * per, per * sizeof(float));
            size_t need = (size_t)lb->images[i].width * lb->images[i].height;
            if (need > run->pixels_cap) {
                uint8_t *grown = realloc(run->pixels, need * 3);
                if (grown) run->pixels = grown;
                float *grown_full = grown ? realloc(run->full, need * sizeof(float)) : NULL;
                if (!grown || !grown_full) return gm_error(GM_ERR_NOMEM, "out of memory for pictures");
                run->full = grown_full, run->pixels_cap = need;
            }
            for (int t = 0; t < T; ++t)
                GM_TRY(gm_explain_write_pictures(&run->a, stem, run->methods[k], t, T,
                                                 run->maps[k] + (size_t)i * per + (size_t)t * h * w, h, w,
                                                 &lb->images[i], run->scratch, run->full, run->pixels));
        }
    }
    gm_results_batch rb = {.n = count,
                           .paths = lb->paths,
                           .widths = lb->widths,
                           .heights = lb->heights,
                           .status = lb->ok,
                           .errors = lb->errors,
                           .topk_class = run->topk_class,
                           .topk_prob = run->topk_prob,
                           .target_class = run->target_class,
                           .target_logit = run->target_logit,
                           .maps = (const float *const *)run->maps};
    return gm_results_append_batch(run->r, &rb);
}

static gm_status gm_open_outputs(gm_run *run) {
    gm_results_method rm[GM_METHOD_COUNT];
    for (int k = 0; k < run->n_methods; ++k) {
        rm[k].name = gm_method_name(run->methods[k]);
        gm_explainer_map_size(run->x, run->methods[k], &rm[k].height, &rm[k].width);
    }
    int target = gm_explainer_target_layer(run->x);
    char device[512] = "";
    if (run->be->ops->describe) GM_TRY(run->be->ops->describe(run->be, device, sizeof device));
    gm_results_spec spec = {.dir = run->a.out_dir,
                            .methods = rm,
                            .n_methods = run->n_methods,
                            .top_k = run->K,
                            .n_targets = run->T,
                            .n_classes = run->g->nodes[run->g->logits_node].out.c,
                            .class_names = run->g->n_class_names ? (const char *const *)run->g->class_names : NULL,
                            .gzip = 1,
                            .model_file = run->a.model_path,
                            .command_line = run->a.command_line,
                            .target_layer = target >= 0 ? run->g->nodes[target].name : "",
                            .precision = gm_precision_name(run->a.precision),
                            .device = device[0] ? device : run->be->ops->name};
    GM_TRY(gm_results_open(&spec, run->a.resume, &run->r));
    if (run->a.png_heatmap || run->a.png_overlay) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/png", run->a.out_dir);
        if (mkdir(dir, 0777) != 0 && errno != EEXIST)
            return gm_error(GM_ERR_IO, "%s: cannot create folder: %s", dir, strerror(errno));
    }
    return GM_OK;
}

static gm_status gm_explain_all(gm_run *run) {
    int *pending = malloc((size_t)run->paths.count * sizeof *pending);
    if (!pending) return gm_error(GM_ERR_NOMEM, "out of memory");
    int n_pending = 0;
    for (int i = 0; i < run->paths.count; ++i)
        if (!gm_results_is_done(run->r, run->paths.paths[i])) pending[n_pending++] = i;
    run->done = run->paths.count - n_pending;
    if (run->done && !run->a.quiet)
        fprintf(stderr, "gradmap: resuming: %d of %d images already in %s\n", run->done, run->paths.count,
                run->a.out_dir);
    double started = gm_cli_now();
    gm_loader *loader = NULL;
    gm_status st = gm_loader_create(&run->a, run->g, &run->paths, pending, n_pending, run->batch, &loader);
    int processed = 0;
    for (;;) {
        gm_loaded_batch *lb = NULL;
        if (st == GM_OK) st = gm_loader_next(loader, &lb);
        if (st != GM_OK || !lb) break;
        st = gm_run_batch(run, lb);
        processed += lb->count;
        if (!run->a.quiet && isatty(STDERR_FILENO)) {
            double rate = processed / (gm_cli_now() - started + 1e-9);
            fprintf(stderr, "\r%d/%d images, %.1f images/s, ETA %.0f s   ", run->done + processed, run->paths.count,
                    rate, (n_pending - processed) / (rate > 0 ? rate : 1));
            fflush(stderr);
        }
    }
    gm_loader_free(&loader);
    if (!run->a.quiet && isatty(STDERR_FILENO)) fprintf(stderr, "\n");
    free(pending);
    return st;
}

int gm_cmd_explain(int argc, char **argv) {
    gm_run run;
    memset(&run, 0, sizeof run);
    int help = 0;
    gm_status st = gm_explain_args_parse(argc, argv, &run.a, &help);
    if (help) {
        free(run.a.inputs);
        gm_explain_usage(stdout);
        return 0;
    }
    if (st == GM_OK) st = gm_cli_expand_inputs(run.a.inputs, run.a.n_inputs, &run.paths);
    if (st == GM_OK) st = gm_explain_open_model(&run.a, &run.g);
    int cls = -1;
    if (st == GM_OK) st = gm_resolve_class(&run, &cls);
    if (st == GM_OK) {
        int n_classes = run.g->nodes[run.g->logits_node].out.c;
        run.batch = run.a.batch < run.paths.count ? run.a.batch : run.paths.count;
        run.T = run.a.cfg.n_targets;
        run.K = n_classes < 5 ? n_classes : 5;
        st = gm_explain_open_explainer(&run.a, run.g, &run.batch, &run.be, &run.x);
        for (int m = 0; m < GM_METHOD_COUNT; ++m)
            if ((run.a.cfg.methods >> m) & 1u || (m == GM_METHOD_GRADCAM && (run.a.cfg.methods >> GM_METHOD_GUIDEDGRADCAM) & 1u))
                run.methods[run.n_methods++] = (gm_method)m;
        if (st == GM_OK) st = gm_run_alloc(&run);
        for (int i = 0; st == GM_OK && i < run.batch; ++i) run.classes[i] = cls;
        if (st == GM_OK) st = gm_open_outputs(&run);
        if (st == GM_OK) st = gm_explain_all(&run);
    }
    int code = st != GM_OK ? gm_cli_fail(st) : run.failed ? 1 : 0;
    if (run.r) {
        gm_status cst = gm_results_close(&run.r);
        if (cst != GM_OK && code == 0) code = gm_cli_fail(cst);
    }
    if (st == GM_OK && !run.a.quiet)
        fprintf(stderr, "gradmap: %d images explained, %d could not be read; results in %s\n",
                run.paths.count - run.done - run.failed, run.failed, run.a.out_dir);
    gm_run_free(&run);
    return code;
}
