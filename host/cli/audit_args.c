/* audit_args.c — option parsing and help text of `gradmap audit`. Every default is stated in the
 * help (the README mirrors it). */
#include <stdlib.h>
#include <string.h>

#include "audit_args.h"
#include "cli.h"
#include "weights/arch_builtin.h"

void gm_audit_usage(FILE *f) {
    fprintf(f,
            "usage: gradmap audit MODEL DATA --out DIR [options]\n"
            "\n"
            "Audits where the model looks across a labelled dataset: per image the explanation map's mass on\n"
            "the object, the border band and named regions, and the pointing game; per class accuracy, mean\n"
            "maps and SpRAy (spectral clustering of the maps). A class with a cluster of images whose maps\n"
            "sit off the object (or mostly on the border or a region, e.g. a watermark) is flagged.\n"
            "\n"
            "  MODEL              Keras .h5 (full model, or weights-only with --arch %s)\n"
            "  DATA               a folder of class folders (DATA/<label>/*.png|jpg), or a CSV file\n"
            "                     path,label[,mask][,x0,y0,x1,y1] (header optional; paths relative to it).\n"
            "                     Labels are model class names or indices\n"
            "  --out DIR          output folder (created): report.html (+ report/), audit.h5, classes.csv,\n"
            "                     images.csv\n"
            "  --masks DIR        object masks, non-zero = object: DIR/<label>/<image stem>.png (folder\n"
            "                     DATA), or the folder relative mask paths of a CSV are resolved against\n"
            "  --boxes CSV        object boxes path,x0,y0,x1,y1 (pixels, x1/y1 exclusive; several rows per\n"
            "                     image allowed; path as listed, relative to DATA for a folder)\n"
            "  --region N=x0,y0,x1,y1  a named region whose map mass is measured (repeatable, up to %d);\n"
            "                     pixels, or percentages with %% (corner=85%%,85%%,100%%,100%%)\n"
            "  --method M         one explanation method (default gradcam; see gradmap explain --help)\n"
            "  --target T         label (default: explain the true class) or pred (the predicted class)\n"
            "  --layer NAME       target layer of the CAM family (default as in gradmap explain)\n"
            "  --border F         border band: the outer F of the shorter side (default %.2f)\n"
            "  --tolerance PX     pointing-game tolerance in pixels (default %.0f, as Zhang et al.)\n"
            "  --seed N           SpRAy k-means seed (default 0); the audit is reproducible for a seed\n"
            "  --spray-size S     SpRAy map size S x S (default 32)\n"
            "  --knn K            SpRAy nearest neighbours (default 10)\n"
            "  --max-clusters K   largest cluster count the eigengap may choose (default 8)\n"
            "  --spray-max N      cluster at most N images of a class (default 2000); a larger class is\n"
            "                     clustered on an evenly spaced subset, the rest join the nearest cluster\n"
            "  --samples N        member overlays shown per cluster in the report (default 6)\n"
            "  --worst N          worst images shown per class (default 4)\n"
            "  --colormap NAME, --alpha A: report pictures, as in gradmap explain\n"
            "  --overwrite        replace an earlier audit in DIR\n"
            "  --batch N          images per batch (default 16)\n"
            "  --device DEV, --precision P, --conv-algo A, --threads N, --labels FILE, --preprocess MODE,\n"
            "  --resize MODE, --arch A:\n"
            "                     as in gradmap explain\n"
            "  --quiet            no progress line, no per-item messages\n"
            "\n"
            "An image that cannot be read, a label that is not a class of the model, a missing mask or a box\n"
            "outside its image is recorded per image (images.csv, audit.h5, the report) and the audit goes on.\n"
            "Exit status: 0 every image and class audited, 1 some images or classes failed (empty, label not\n"
            "in the model), >1 the audit could not run.\n",
            gm_arch_names(), GM_AUDIT_MAX_REGIONS, GM_AUDIT_BORDER_FRACTION, GM_AUDIT_POINTING_TOLERANCE_PX);
}

static gm_status gm_audit_double(const char *flag, const char *text, double lo, double hi, double *out) {
    char *end = NULL;
    double v = text ? strtod(text, &end) : 0.0;
    if (!text || end == text || *end || !(v >= lo && v <= hi))
        return gm_error(GM_ERR_INVALID_ARG, "%s: '%s' is not a number in %g..%g", flag, text ? text : "", lo, hi);
    *out = v;
    return GM_OK;
}

static gm_status gm_audit_add_region(gm_audit_args *a, const char *spec) {
    if (a->n_regions == GM_AUDIT_MAX_REGIONS)
        return gm_error(GM_ERR_INVALID_ARG, "--region: at most %d regions", GM_AUDIT_MAX_REGIONS);
    gm_audit_region *r = &a->regions[a->n_regions];
    GM_TRY(gm_audit_region_parse(spec, r));
    for (int i = 0; i < a->n_regions; ++i)
        if (!strcmp(a->regions[i].name, r->name))
            return gm_error(GM_ERR_INVALID_ARG, "--region %s: the name '%s' is given twice", spec, r->name);
    ++a->n_regions;
    return GM_OK;
}

static gm_status gm_audit_method(const char *text, gm_method *out) {
    unsigned bits = 0;
    GM_TRY(gm_method_parse_list(text, &bits));
    int count = 0;
    for (int m = 0; m < GM_METHOD_COUNT; ++m)
        if ((bits >> m) & 1u) *out = (gm_method)m, ++count;
    if (count != 1) return gm_error(GM_ERR_INVALID_ARG, "--method %s: an audit uses exactly one method", text);
    return GM_OK;
}

/* One option of audit's own; *takes = values consumed, 0 when `arg` is not one of them. */
static gm_status gm_audit_option(gm_audit_args *a, const char *arg, const char *val, int *known) {
    double d = 0.0;
    *known = 1;
    if (!strcmp(arg, "--masks")) a->masks = val;
    else if (!strcmp(arg, "--boxes")) a->boxes = val;
    else if (!strcmp(arg, "--region")) GM_TRY(gm_audit_add_region(a, val));
    else if (!strcmp(arg, "--method")) GM_TRY(gm_audit_method(val, &a->method));
    else if (!strcmp(arg, "--target")) {
        if (strcmp(val, "label") && strcmp(val, "pred"))
            return gm_error(GM_ERR_INVALID_ARG, "--target: '%s' (label or pred)", val);
        a->target_pred = !strcmp(val, "pred");
    } else if (!strcmp(arg, "--border")) GM_TRY(gm_audit_double(arg, val, 0.0, 0.5, &a->metrics.border_fraction));
    else if (!strcmp(arg, "--tolerance")) GM_TRY(gm_audit_double(arg, val, 0.0, 1e6, &a->metrics.pointing_tolerance_px));
    else if (!strcmp(arg, "--seed")) {
        GM_TRY(gm_audit_double(arg, val, 0.0, 1.8e19, &d));
        a->spray.seed = (uint64_t)d;
    } else if (!strcmp(arg, "--spray-size")) GM_TRY(gm_cli_parse_int(arg, val, 2, 256, &a->spray.size));
    else if (!strcmp(arg, "--knn")) GM_TRY(gm_cli_parse_int(arg, val, 1, 1000, &a->spray.knn));
    else if (!strcmp(arg, "--max-clusters")) GM_TRY(gm_cli_parse_int(arg, val, 1, 64, &a->spray.max_clusters));
    else if (!strcmp(arg, "--spray-max")) GM_TRY(gm_cli_parse_int(arg, val, 3, 1000000, &a->spray.max_images));
    else if (!strcmp(arg, "--samples")) GM_TRY(gm_cli_parse_int(arg, val, 0, 100, &a->report.samples_per_cluster));
    else if (!strcmp(arg, "--worst")) GM_TRY(gm_cli_parse_int(arg, val, 0, 100, &a->report.worst_per_class));
    else if (!strcmp(arg, "--colormap")) GM_TRY(gm_post_colormap_parse(val, &a->report.colormap));
    else if (!strcmp(arg, "--alpha")) GM_TRY(gm_audit_double(arg, val, 0.0, 1.0, &a->report.alpha));
    else *known = 0;
    return GM_OK;
}

/* The options shared with explain, passed through its parser one at a time so they mean the same. */
static const char *const gm_shared_options[] = {"--out",  "--layer",     "--batch",      "--threads", "--device",
                                                "--arch", "--precision", "--preprocess", "--resize",  "--labels",
                                                "--conv-algo", NULL};

static int gm_is_shared(const char *arg) {
    for (int i = 0; gm_shared_options[i]; ++i)
        if (!strcmp(arg, gm_shared_options[i])) return 1;
    return 0;
}

gm_status gm_audit_args_parse(int argc, char **argv, gm_audit_args *a, int *help) {
    memset(a, 0, sizeof *a);
    a->method = GM_METHOD_GRADCAM;
    gm_audit_metric_options_default(&a->metrics);
    gm_spray_config_default(&a->spray);
    gm_audit_report_options_default(&a->report);
    /* explain's parser sets its defaults and fills the shared options: give it MODEL, a placeholder
     * input and every shared option; audit's own are handled here. */
    char **xargv = calloc((size_t)argc + 3, sizeof *xargv);
    if (!xargv) return gm_error(GM_ERR_NOMEM, "out of memory");
    int xargc = 0, positional = 0, has_out = 0;
    xargv[xargc++] = "audit";
    gm_status st = GM_OK;
    for (int i = 1; i < argc && st == GM_OK; ++i) {
        const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        int known = 0;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            *help = 1;
            free(xargv);
            return GM_OK;
        } else if (!strcmp(arg, "--quiet")) {
            xargv[xargc++] = argv[i];
        } else if (!strcmp(arg, "--overwrite")) {
            a->overwrite = 1;
        } else if (arg[0] == '-' && arg[1] && !val) {
            st = gm_error(GM_ERR_INVALID_ARG, "unknown option or missing value: %s (see gradmap audit --help)", arg);
        } else if (gm_is_shared(arg)) {
            has_out |= !strcmp(arg, "--out");
            xargv[xargc++] = argv[i], xargv[xargc++] = argv[++i];
        } else if (arg[0] == '-' && arg[1]) {
            st = gm_audit_option(a, arg, val, &known);
            if (st == GM_OK && !known)
                st = gm_error(GM_ERR_INVALID_ARG, "unknown option: %s (see gradmap audit --help)", arg);
            ++i;
        } else if (positional == 0) {
            xargv[xargc++] = argv[i], ++positional;
        } else if (positional == 1) {
            a->data = arg, ++positional;
        } else {
            st = gm_error(GM_ERR_INVALID_ARG, "audit takes one MODEL and one DATA; '%s' is one too many", arg);
        }
    }
    if (st == GM_OK && positional < 2)
        st = gm_error(GM_ERR_INVALID_ARG, "audit needs MODEL and DATA (see gradmap audit --help)");
    if (st == GM_OK && !has_out) st = gm_error(GM_ERR_INVALID_ARG, "audit needs --out DIR (see gradmap audit --help)");
    if (st == GM_OK) {
        xargv[xargc++] = (char *)a->data; /* the placeholder INPUT explain's parser requires */
        int xhelp = 0;
        st = gm_explain_args_parse(xargc, xargv, &a->x, &xhelp);
        if (st != GM_OK) st = gm_error_context(st, "audit: ");
    }
    free(xargv);
    if (st != GM_OK) return st;
    /* The command line recorded in the outputs is audit's own. */
    size_t used = (size_t)snprintf(a->x.command_line, sizeof a->x.command_line, "gradmap");
    for (int i = 0; i < argc && used < sizeof a->x.command_line; ++i)
        used += (size_t)snprintf(a->x.command_line + used, sizeof a->x.command_line - used, " %s", argv[i]);
    a->x.cfg.methods = 1u << a->method;
    a->x.cfg.n_targets = 1;
    a->x.png_heatmap = a->x.png_overlay = 0;
    return GM_OK;
}
