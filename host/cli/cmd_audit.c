/* cmd_audit.c — `gradmap audit MODEL DATA --out DIR`: explains every image of a labelled dataset in
 * batches (the explain pipeline: loader thread, one forward and backward per batch), measures where
 * each map's mass lies (audit_image.c), then summarises per class with SpRAy (explain/audit.h) and
 * writes the report, audit.h5 and the CSVs (audit_output.h). Problems with single images are
 * recorded on them and the audit completes with the rest. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit_args.h"
#include "audit_dataset.h"
#include "audit_image.h"
#include "cli.h"
#include "explain_loader.h"

typedef struct gm_audit_run {
    gm_audit_args a;
    gm_audit_dataset data;
    gm_audit audit;
    gm_graph *g;
    gm_backend *be;
    gm_explainer *x;
    gm_path_list paths;   /* the items' paths, for the loader */
    int *classes;         /* per batch row: the label's model class (label targets) */
    gm_audit_image_work work;
    int failed;
} gm_audit_run;

/* A dataset label -> model class: its name among the model's class names, else an index. */
static int gm_label_class(const gm_graph *g, const char *label) {
    for (int i = 0; i < g->n_class_names; ++i)
        if (!strcmp(g->class_names[i], label)) return i;
    char *end = NULL;
    long v = strtol(label, &end, 10);
    int n_classes = g->nodes[g->logits_node].out.c;
    return end != label && *end == '\0' && v >= 0 && v < n_classes ? (int)v : -1;
}

/* The output folder: created; one holding an earlier audit is refused unless --overwrite. */
static gm_status gm_prepare_out(const gm_audit_args *a) {
    const char *dir = a->x.out_dir;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return gm_error(GM_ERR_IO, "%s: cannot create folder: %s", dir, strerror(errno));
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return gm_error(GM_ERR_IO, "--out %s: not a folder", dir);
    char path[4096];
    snprintf(path, sizeof path, "%s/audit.h5", dir);
    if (!a->overwrite && access(path, F_OK) == 0)
        return gm_error(GM_ERR_INVALID_ARG, "%s already holds an audit (audit.h5); give --overwrite to replace it", dir);
    return GM_OK;
}

/* The audit's records from the listing: classes, images, listing-time errors and notes. */
static gm_status gm_audit_init(gm_audit_run *run) {
    gm_audit *au = &run->audit;
    const gm_audit_args *a = &run->a;
    const gm_graph *g = run->g;
    au->n_classes = run->data.n_labels, au->n_images = run->data.n_items;
    au->classes = calloc((size_t)(au->n_classes ? au->n_classes : 1), sizeof *au->classes);
    au->images = calloc((size_t)(au->n_images ? au->n_images : 1), sizeof *au->images);
    gm_audit_map_size(g->input_h, g->input_w, &au->map_h, &au->map_w);
    au->maps = calloc((size_t)(au->n_images ? au->n_images : 1) * au->map_h * au->map_w, sizeof *au->maps);
    au->model_path = gm_cli_strdup(a->x.model_path), au->data_path = gm_cli_strdup(a->data);
    au->method = gm_cli_strdup(gm_method_name(a->method)), au->target_mode = gm_cli_strdup(a->target_pred ? "pred" : "label");
    au->command_line = gm_cli_strdup(a->x.command_line);
    if (!au->classes || !au->images || !au->maps || !au->model_path || !au->data_path || !au->method ||
        !au->target_mode || !au->command_line)
        return gm_error(GM_ERR_NOMEM, "out of memory for an audit of %d images", au->n_images);
    au->seed = a->spray.seed;
    au->metric_options = a->metrics;
    au->spray_config = a->spray;
    memcpy(au->regions, a->regions, sizeof au->regions);
    au->n_regions = a->n_regions;
    au->has_objects = run->data.has_annotations;
    au->model_class_names = g->n_class_names ? (const char *const *)g->class_names : NULL;
    au->n_model_classes = g->nodes[g->logits_node].out.c;
    for (int c = 0; c < au->n_classes; ++c) {
        gm_audit_class *cl = &au->classes[c];
        if (!(cl->name = gm_cli_strdup(run->data.labels[c]))) return gm_error(GM_ERR_NOMEM, "out of memory");
        cl->model_class = gm_label_class(g, cl->name);
        if (cl->model_class < 0)
            cl->error = gm_cli_printf("label '%s' is not a class of the model (give model class names or indices 0..%d)",
                                        cl->name, au->n_model_classes - 1);
    }
    for (int i = 0; i < au->n_images; ++i) {
        gm_audit_item *it = &run->data.items[i];
        gm_audit_image *im = &au->images[i];
        im->path = gm_cli_strdup(it->path);
        if (!im->path) return gm_error(GM_ERR_NOMEM, "out of memory");
        im->cls = it->cls, im->predicted = im->target = -1, im->cluster = -1;
        gm_audit_metrics_undefined(&im->m);
        im->note = it->note, it->note = NULL;
        if (it->error) im->error = it->error, it->error = NULL;
        else if (au->classes[it->cls].model_class < 0)
            im->error = gm_cli_printf("%s: label '%s' is not a class of the model", it->path, au->classes[it->cls].name);
    }
    int *listed = calloc((size_t)(au->n_classes ? au->n_classes : 1), sizeof *listed);
    if (!listed) return gm_error(GM_ERR_NOMEM, "out of memory");
    for (int i = 0; i < au->n_images; ++i) ++listed[au->images[i].cls];
    gm_status st = GM_OK;
    for (int c = 0; c < au->n_classes && st == GM_OK; ++c) {
        if (listed[c] > 0) continue;
        char *e = au->classes[c].error ? gm_cli_printf("no images; %s", au->classes[c].error) : gm_cli_printf("no images");
        if (!e) st = gm_error(GM_ERR_NOMEM, "out of memory");
        else free(au->classes[c].error), au->classes[c].error = e;
    }
    free(listed);
    return st;
}

/* One loaded batch: explain the readable items, then measure each map. */
static gm_status gm_audit_batch(gm_audit_run *run, const gm_loaded_batch *lb, const int *items) {
    gm_audit *au = &run->audit;
    for (int i = 0; i < lb->count; ++i)
        if (lb->ok[i]) run->classes[lb->slot[i]] = au->classes[au->images[items[i]].cls].model_class;
    gm_explain_batch out;
    memset(&out, 0, sizeof out);
    if (lb->valid > 0) GM_TRY(gm_explainer_run(run->x, lb->input, lb->valid, run->a.target_pred ? NULL : run->classes, &out));
    int h, w, C = run->g->nodes[run->g->logits_node].out.c;
    gm_explainer_map_size(run->x, run->a.method, &h, &w);
    for (int i = 0; i < lb->count; ++i) {
        gm_audit_image *im = &au->images[items[i]];
        if (!lb->ok[i]) {
            im->error = gm_cli_printf("%s", lb->messages[i]);
            ++run->failed;
            if (!run->a.x.quiet) fprintf(stderr, "gradmap: skipped: %s\n", lb->messages[i]);
            continue;
        }
        int s = lb->slot[i];
        gm_audit_prediction p = {.probs = out.probs + (size_t)s * C,
                                 .n_classes = C,
                                 .target = out.targets[s],
                                 .label_class = au->classes[im->cls].model_class};
        const float *raw = out.maps[run->a.method] + (size_t)s * h * w;
        GM_TRY(gm_audit_measure_image(au, items[i], &run->data.items[items[i]], &p, raw, h, w, run->a.method,
                                      &lb->images[i], &run->work));
        if (!im->ok) {
            ++run->failed;
            if (!run->a.x.quiet) fprintf(stderr, "gradmap: skipped: %s\n", im->error);
        }
    }
    return GM_OK;
}

static gm_status gm_audit_explain_all(gm_audit_run *run) {
    gm_audit *au = &run->audit;
    int *items = malloc((size_t)(au->n_images ? au->n_images : 1) * sizeof *items);
    if (!items) return gm_error(GM_ERR_NOMEM, "out of memory");
    int n = 0;
    for (int i = 0; i < au->n_images; ++i) {
        if (!au->images[i].error) items[n++] = i;
        else {
            ++run->failed;
            if (!run->a.x.quiet) fprintf(stderr, "gradmap: skipped: %s\n", au->images[i].error);
        }
    }
    int batch = run->a.x.batch < n ? run->a.x.batch : (n ? n : 1);
    gm_loader *loader = NULL;
    gm_status st = n ? gm_loader_create(&run->a.x, run->g, &run->paths, items, n, batch, &loader) : GM_OK;
    double started = gm_cli_now();
    int processed = 0;
    while (st == GM_OK && n) {
        gm_loaded_batch *lb = NULL;
        st = gm_loader_next(loader, &lb);
        if (st != GM_OK || !lb) break;
        st = gm_audit_batch(run, lb, items + processed);
        processed += lb->count;
        if (!run->a.x.quiet && isatty(STDERR_FILENO)) {
            double rate = processed / (gm_cli_now() - started + 1e-9);
            fprintf(stderr, "\r%d/%d images, %.1f images/s, ETA %.0f s   ", processed, n, rate,
                    (n - processed) / (rate > 0 ? rate : 1));
            fflush(stderr);
        }
    }
    gm_loader_free(&loader);
    if (!run->a.x.quiet && isatty(STDERR_FILENO) && n) fprintf(stderr, "\n");
    free(items);
    return st;
}

static gm_status gm_audit_open_model(gm_audit_run *run) {
    gm_explain_args *x = &run->a.x;
    GM_TRY(gm_explain_open_model(x, &run->g));
    GM_TRY(gm_explain_open_explainer(x, run->g, &x->batch, &run->be, &run->x));
    run->classes = calloc((size_t)x->batch, sizeof *run->classes);
    if (!run->classes) return gm_error(GM_ERR_NOMEM, "out of memory");
    char device[512] = "";
    if (run->be->ops->describe) GM_TRY(run->be->ops->describe(run->be, device, sizeof device));
    int target = gm_explainer_target_layer(run->x);
    run->audit.device = gm_cli_strdup(device[0] ? device : run->be->ops->name);
    run->audit.target_layer = gm_cli_strdup(gm_method_is_input_space(run->a.method) ? "input"
                                     : target >= 0                           ? run->g->nodes[target].name
                                                                             : "");
    if (!run->audit.device || !run->audit.target_layer) return gm_error(GM_ERR_NOMEM, "out of memory");
    return GM_OK;
}

static gm_status gm_audit_paths(gm_audit_run *run) {
    run->paths.count = run->paths.cap = run->data.n_items;
    run->paths.paths = calloc((size_t)(run->data.n_items ? run->data.n_items : 1), sizeof *run->paths.paths);
    if (!run->paths.paths) return gm_error(GM_ERR_NOMEM, "out of memory");
    for (int i = 0; i < run->data.n_items; ++i)
        if (!(run->paths.paths[i] = gm_cli_strdup(run->data.items[i].path))) return gm_error(GM_ERR_NOMEM, "out of memory");
    return GM_OK;
}

static gm_status gm_audit_write_all(gm_audit_run *run) {
    const char *dir = run->a.x.out_dir;
    GM_TRY(gm_audit_write_csv(&run->audit, dir));
    GM_TRY(gm_audit_write_h5(&run->audit, dir));
    return gm_audit_write_report(&run->audit, dir, &run->a.report);
}

static void gm_audit_print_summary(const gm_audit_run *run) {
    const gm_audit *au = &run->audit;
    int explained = 0;
    for (int i = 0; i < au->n_images; ++i) explained += au->images[i].ok;
    fprintf(stderr, "gradmap: %d images audited, %d could not be; %d of %d classes flagged; report in %s/report.html\n",
            explained, au->n_images - explained, au->n_flagged, au->n_classes, run->a.x.out_dir);
    for (int k = 0; k < au->n_classes; ++k) {
        const gm_audit_class *c = &au->classes[au->class_order[k]];
        if (c->flagged) fprintf(stderr, "gradmap: FLAGGED %s: %s\n", c->name, c->reason);
    }
}

static void gm_audit_run_free(gm_audit_run *run) {
    gm_audit_image_work_free(&run->work);
    free(run->classes);
    gm_explainer_free(&run->x);
    gm_backend_close(&run->be);
    gm_audit_free(&run->audit);
    gm_graph_free(&run->g);
    gm_path_list_free(&run->paths);
    gm_audit_dataset_free(&run->data);
    free(run->a.x.inputs);
}

int gm_cmd_audit(int argc, char **argv) {
    gm_audit_run run;
    memset(&run, 0, sizeof run);
    int help = 0;
    gm_status st = gm_audit_args_parse(argc, argv, &run.a, &help);
    if (help) {
        free(run.a.x.inputs);
        gm_audit_usage(stdout);
        return 0;
    }
    if (st == GM_OK) st = gm_audit_dataset_load(run.a.data, run.a.masks, run.a.boxes, run.a.x.quiet, &run.data);
    if (st == GM_OK) st = gm_prepare_out(&run.a);
    if (st == GM_OK) st = gm_audit_open_model(&run);
    if (st == GM_OK) st = gm_audit_init(&run);
    if (st == GM_OK) st = gm_audit_paths(&run);
    if (st == GM_OK) st = gm_audit_explain_all(&run);
    if (st == GM_OK) st = gm_audit_summarize(&run.audit);
    if (st == GM_OK) st = gm_audit_write_all(&run);
    if (st == GM_OK && !run.a.x.quiet) gm_audit_print_summary(&run);
    int class_errors = 0;
    for (int c = 0; st == GM_OK && c < run.audit.n_classes; ++c) class_errors += run.audit.classes[c].error != NULL;
    int code = st != GM_OK ? gm_cli_fail(st) : run.failed || class_errors ? 1 : 0;
    gm_audit_run_free(&run);
    return code;
}
