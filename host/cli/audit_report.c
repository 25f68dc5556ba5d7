/* audit_report.c — DIR/report.html of `gradmap audit` (audit_output.h): one self-contained page,
 * polyglot HTML5 / well-formed XML (every element closed, all text escaped), inline CSS, no
 * scripts and no network references; its pictures lie in DIR/report/ under names built from indices
 * only (audit_report_pictures.c, audit_report_svg.c) and are linked relatively. Sections: what was
 * run and how to read the page, a summary table of the classes in decreasing suspicion, one section
 * per class (mean map, SpRAy spectrum, clusters with member overlays, the least object-focused
 * images) and the errors. The page is written to report.html.tmp and renamed when complete. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audit_report_internal.h"
#include "cli.h"

#define DASH "&#8211;"

void gm_audit_report_options_default(gm_audit_report_options *o) {
    o->colormap = GM_COLORMAP_JET;
    o->alpha = GM_POST_DEFAULT_ALPHA;
    o->samples_per_cluster = 6;
    o->worst_per_class = 4;
}

/* ---- small formatting helpers (results may hold entities, never user text) ---- */

static const char *gm_rp_num(char buf[48], double v, int prec) {
    if (!isfinite(v)) return DASH;
    snprintf(buf, 48, "%.*f", prec, v);
    return buf;
}

static const char *gm_rp_stat(char buf[96], const gm_audit_stat *s) {
    if (s->n <= 0 || !isfinite(s->mean)) return DASH;
    if (isfinite(s->sd)) snprintf(buf, 96, "%.2f &#177; %.2f", s->mean, s->sd);
    else snprintf(buf, 96, "%.2f", s->mean);
    return buf;
}

static const char *gm_rp_mean(char buf[48], const gm_audit_stat *s) {
    return s->n > 0 ? gm_rp_num(buf, s->mean, 2) : DASH;
}

static void gm_rp_model_class(gm_safe_file *w, const gm_audit *a, int cls) {
    if (cls < 0) gm_safe_file_printf(w, DASH);
    else if (a->model_class_names && cls < a->n_model_classes && a->model_class_names[cls])
        gm_rp_text(w, a->model_class_names[cls]);
    else gm_safe_file_printf(w, "class %d", cls);
}

static const char *gm_rp_basename(const char *path) {
    const char *s = path ? strrchr(path, '/') : NULL;
    return s ? s + 1 : (path ? path : "");
}

/* ---- page parts ---- */

static void gm_rp_head(gm_safe_file *w, const gm_audit *a) {
    gm_safe_file_printf(w, "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\" xml:lang=\"en\">\n"
                    "<head>\n<meta charset=\"utf-8\"/>\n<title>gradmap audit</title>\n<style>\n"
                    "body{font-family:sans-serif;font-size:14px;margin:1.5em;color:#222}\n"
                    "table{border-collapse:collapse;margin:0.5em 0}\n"
                    "th,td{border:1px solid #ccc;padding:2px 6px;text-align:right;vertical-align:top}\n"
                    "th{background:#eee}\ntd.l,th.l{text-align:left}\n"
                    ".flag{color:#fff;background:#c00;font-weight:bold;padding:0 4px}\n"
                    "tr.flagged td{background:#fee}\n.err{color:#c00}\n.muted{color:#777}\n"
                    "section{border-top:2px solid #888;margin-top:1.5em}\n"
                    ".pics,.thumbs{display:flex;flex-wrap:wrap;gap:8px;align-items:flex-start}\n"
                    "figure{margin:0;font-size:11px;max-width:128px;overflow-wrap:anywhere}\n"
                    "figure.plot{max-width:none}\n"
                    "img.map,img.ov{width:128px;image-rendering:pixelated;display:block}\n"
                    "img.small{width:96px;image-rendering:pixelated;display:block}\n"
                    "img.plot{width:340px;display:block}\n"
                    "dt{font-weight:bold;float:left;clear:left;width:13em}\ndd{margin-left:14em}\n"
                    "</style>\n</head>\n<body>\n<h1>gradmap audit</h1>\n");
    const char *labels[] = {"model", "data", "method", "target layer", "target mode", "device", "command line"};
    const char *values[] = {a->model_path, a->data_path, a->method, a->target_layer,
                            a->target_mode, a->device, a->command_line};
    gm_safe_file_printf(w, "<dl>\n");
    for (int i = 0; i < 7; ++i) {
        gm_safe_file_printf(w, "<dt>%s</dt><dd>", labels[i]);
        if (values[i]) {
            gm_safe_file_printf(w, "<code>");
            gm_rp_text(w, values[i]);
            gm_safe_file_printf(w, "</code>");
        } else gm_safe_file_printf(w, DASH);
        gm_safe_file_printf(w, "</dd>\n");
        if (i == 5) gm_safe_file_printf(w, "<dt>seed</dt><dd>%" PRIu64 "</dd>\n", a->seed);
    }
    int explained = 0;
    for (int i = 0; i < a->n_images; ++i) explained += a->images[i].ok != 0;
    gm_safe_file_printf(w, "<dt>images</dt><dd>%d listed, %d explained, %d with errors</dd>\n", a->n_images, explained,
                 a->n_images - explained);
    gm_safe_file_printf(w, "<dt>classes</dt><dd>%d, %d flagged</dd>\n", a->n_classes, a->n_flagged);
    char b[48];
    if (a->has_objects)
        gm_safe_file_printf(w, "<dt>baseline</dt><dd>median in-object mass %s</dd>\n", gm_rp_num(b, a->baseline_inside, 3));
    else gm_safe_file_printf(w, "<dt>baseline</dt><dd>no object annotations</dd>\n");
    gm_safe_file_printf(w, "<dt>regions</dt><dd>");
    if (a->n_regions == 0) gm_safe_file_printf(w, "none");
    for (int r = 0; r < a->n_regions; ++r) {
        gm_safe_file_printf(w, "%s<code>", r ? ", " : "");
        gm_rp_text(w, a->regions[r].name);
        for (int j = 0; j < 4; ++j)
            gm_safe_file_printf(w, "%s%g%s", j ? "," : "=", a->regions[r].v[j], a->regions[r].percent[j] ? "%" : "");
        gm_safe_file_printf(w, "</code>");
    }
    const gm_spray_config *sc = &a->spray_config;
    gm_safe_file_printf(w, "</dd>\n<dt>SpRAy</dt><dd>maps at %dx%d, %d neighbours, k at most %d, %d eigenvalues</dd>\n</dl>\n",
                 sc->size, sc->size, sc->knn, sc->max_clusters, sc->n_eigen);
    gm_safe_file_printf(w, "<p><a href=\"#summary\">summary</a> | <a href=\"#errors\">errors</a></p>\n");
    gm_safe_file_printf(
        w,
        "<h2>How to read this</h2>\n<p>Each picture shows an explanation map: where the model looked. "
        "<em>In-object mass</em> is the share of a map's mass on the annotated object; the <em>pointing game</em> "
        "hits when the map's maximum lies within %g px of the object; <em>border</em> is the share in the outer "
        "band (%g of the shorter side) and each region column the share in that named region. SpRAy groups the "
        "maps of a class that look alike (spectral clustering; k is where the eigenvalue gap is largest).</p>\n"
        "<p>The baseline is the median in-object mass over every image with an object. A cluster "
        "<em>qualifies</em> when it holds at least max(3, 10%% of its class's explained images) images. A class is "
        "<span class=\"flag\">FLAGGED</span> when SpRAy finds at least 2 clusters and a qualifying cluster is off "
        "the object: its mean in-object mass is below %g &#215; baseline (needs object annotations), or its mean "
        "mass in the border band or in one named region is at least %g (most of the map on the frame or on a "
        "region such as a watermark corner). Suspicion (0 to 1) is the largest, over qualifying clusters, of "
        "1 &#8722; in-object mass / baseline (clamped to [0, 1]), the border share and the region shares; with "
        "k = 1 it is taken from the whole class, so unflagged classes are still ranked. Classes are listed by "
        "decreasing suspicion. Mean maps are shown scaled to their own maximum.</p>\n",
        a->metric_options.pointing_tolerance_px, a->metric_options.border_fraction, GM_AUDIT_OFF_OBJECT_RATIO,
        GM_AUDIT_REGION_SHARE);
}

static void gm_rp_status(gm_safe_file *w, const gm_audit_class *c) {
    if (c->flagged) {
        gm_safe_file_printf(w, "<span class=\"flag\">FLAGGED</span> ");
        gm_rp_text(w, c->reason);
    } else gm_safe_file_printf(w, "ok");
    if (c->error) {
        gm_safe_file_printf(w, " <span class=\"err\">");
        gm_rp_text(w, c->error);
        gm_safe_file_printf(w, "</span>");
    }
}

static void gm_rp_summary(gm_safe_file *w, const gm_audit *a, const int *order) {
    gm_safe_file_printf(w, "<h2 id=\"summary\">Classes by decreasing suspicion</h2>\n<table class=\"summary\">\n<thead><tr>"
                    "<th class=\"l\">class</th><th>model class</th><th>images</th><th>explained</th><th>errors</th>"
                    "<th>accuracy</th>");
    if (a->has_objects) gm_safe_file_printf(w, "<th>in-object mass</th>");
    gm_safe_file_printf(w, "<th>pointing hits</th><th>border mass</th>");
    for (int r = 0; r < a->n_regions; ++r) {
        gm_safe_file_printf(w, "<th>");
        gm_rp_text(w, a->regions[r].name);
        gm_safe_file_printf(w, " mass</th>");
    }
    gm_safe_file_printf(w, "<th>mostly outside object</th><th>SpRAy k</th><th>eigengap</th><th>suspicion</th>"
                    "<th class=\"l\">status</th></tr></thead>\n<tbody>\n");
    char b1[48], b2[96];
    for (int oi = 0; oi < a->n_classes; ++oi) {
        int ci = order[oi];
        const gm_audit_class *c = &a->classes[ci];
        gm_safe_file_printf(w, "<tr%s><td class=\"l\"><a href=\"#class-%d\">", c->flagged ? " class=\"flagged\"" : "", ci);
        gm_rp_text(w, c->name);
        gm_safe_file_printf(w, "</a></td><td>");
        if (c->model_class >= 0) gm_safe_file_printf(w, "%d", c->model_class);
        else gm_safe_file_printf(w, DASH);
        gm_safe_file_printf(w, "</td><td>%d</td><td>%d</td><td>%d</td><td>%s</td>", c->n_images, c->n_explained,
                     c->n_images - c->n_explained, gm_rp_num(b1, c->accuracy, 2));
        if (a->has_objects) gm_safe_file_printf(w, "<td>%s</td>", gm_rp_stat(b2, &c->inside));
        gm_safe_file_printf(w, "<td>%s</td>", gm_rp_mean(b1, &c->pointing));
        gm_safe_file_printf(w, "<td>%s</td>", gm_rp_mean(b1, &c->border));
        for (int r = 0; r < a->n_regions; ++r) gm_safe_file_printf(w, "<td>%s</td>", gm_rp_mean(b1, &c->regions[r]));
        gm_safe_file_printf(w, "<td>%s</td>", gm_rp_num(b1, c->outside_share, 2));
        if (c->spray.n > 0) gm_safe_file_printf(w, "<td>%d</td><td>%s</td>", c->spray.k, gm_rp_num(b1, c->spray.eigengap, 3));
        else gm_safe_file_printf(w, "<td>" DASH "</td><td>" DASH "</td>");
        gm_safe_file_printf(w, "<td>%s</td><td class=\"l\">", gm_rp_num(b1, c->suspicion, 2));
        gm_rp_status(w, c);
        gm_safe_file_printf(w, "</td></tr>\n");
    }
    gm_safe_file_printf(w, "</tbody>\n</table>\n");
}

/* One image's overlay with its caption (or why it cannot be shown). */
static gm_status gm_rp_thumb(gm_safe_file *w, gm_rp_pictures *p, int idx) {
    const gm_audit *a = p->a;
    const gm_audit_image *im = &a->images[idx];
    const char *why = NULL;
    GM_TRY(gm_rp_overlay(p, idx, &why));
    gm_safe_file_printf(w, "<figure>");
    if (!why)
        gm_safe_file_printf(w, "<img class=\"ov\" src=\"report/img%d_overlay.png\" alt=\"overlay of image %d\"/>", idx, idx);
    gm_safe_file_printf(w, "<figcaption>");
    if (why) {
        gm_safe_file_printf(w, "<span class=\"err\">image unreadable: ");
        gm_rp_text(w, why);
        gm_safe_file_printf(w, "</span><br/>");
    }
    gm_safe_file_printf(w, "<code>");
    gm_rp_text(w, gm_rp_basename(im->path));
    gm_safe_file_printf(w, "</code><br/>predicted ");
    gm_rp_model_class(w, a, im->predicted);
    gm_safe_file_printf(w, "%s", im->ok ? (im->correct ? " (right)" : " <span class=\"err\">(wrong)</span>") : "");
    char b[48];
    if (im->has_object && isfinite(im->m.inside)) {
        gm_safe_file_printf(w, "<br/>in-object mass %s", gm_rp_num(b, im->m.inside, 2));
    } else {
        gm_safe_file_printf(w, "<br/>border %s", gm_rp_num(b, im->m.border, 2));
        for (int r = 0; r < a->n_regions; ++r) {
            gm_safe_file_printf(w, ", ");
            gm_rp_text(w, a->regions[r].name);
            gm_safe_file_printf(w, " %s", gm_rp_num(b, im->m.regions[r], 2));
        }
    }
    gm_safe_file_printf(w, "</figcaption></figure>\n");
    return GM_OK;
}

typedef struct gm_rp_rank {
    double key; /* ascending; NaN last */
    int idx;
} gm_rp_rank;

static int gm_rp_rank_cmp(const void *pa, const void *pb) {
    const gm_rp_rank *x = pa, *y = pb;
    int nx = isnan(x->key), ny = isnan(y->key);
    if (nx != ny) return nx - ny;
    if (!nx && x->key != y->key) return x->key < y->key ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/* The class's explained images that look least at the object: the lowest in-object mass among those
 * with an object; without any, the highest border-or-region mass. */
static gm_status gm_rp_worst(gm_safe_file *w, gm_rp_pictures *p, int ci) {
    const gm_audit *a = p->a;
    if (p->o->worst_per_class <= 0) return GM_OK;
    gm_rp_rank *r = malloc((a->n_images > 0 ? (size_t)a->n_images : 1) * sizeof *r);
    if (!r) return gm_error(GM_ERR_NOMEM, "report.html: out of memory");
    int n = 0, by_object = 0;
    for (int i = 0; i < a->n_images; ++i) {
        const gm_audit_image *im = &a->images[i];
        if (im->cls == ci && im->ok && im->has_object && isfinite(im->m.inside)) r[n++] = (gm_rp_rank){im->m.inside, i};
    }
    if (n > 0) by_object = 1;
    else
        for (int i = 0; i < a->n_images; ++i) {
            const gm_audit_image *im = &a->images[i];
            if (im->cls != ci || !im->ok) continue;
            double m = isfinite(im->m.border) ? im->m.border : NAN;
            for (int k = 0; k < a->n_regions; ++k)
                if (isfinite(im->m.regions[k]) && (isnan(m) || im->m.regions[k] > m)) m = im->m.regions[k];
            r[n++] = (gm_rp_rank){-m, i};
        }
    gm_status st = GM_OK;
    if (n > 0) {
        qsort(r, (size_t)n, sizeof *r, gm_rp_rank_cmp);
        gm_safe_file_printf(w, "<h3>Least object-focused images</h3>\n<p class=\"muted\">%s</p>\n<div class=\"thumbs\">\n",
                     by_object ? "lowest in-object mass first" : "highest border or region mass first");
        for (int i = 0; i < n && i < p->o->worst_per_class && st == GM_OK; ++i) st = gm_rp_thumb(w, p, r[i].idx);
        gm_safe_file_printf(w, "</div>\n");
    }
    free(r);
    return st;
}

static gm_status gm_rp_clusters(gm_safe_file *w, gm_rp_pictures *p, int ci) {
    const gm_audit *a = p->a;
    const gm_audit_class *c = &a->classes[ci];
    if (!c->clusters || c->spray.k <= 0) return GM_OK;
    gm_safe_file_printf(w, "<h3>SpRAy clusters</h3>\n<table>\n<thead><tr><th>cluster</th><th>size</th><th>accuracy</th>");
    if (a->has_objects) gm_safe_file_printf(w, "<th>in-object mass</th>");
    gm_safe_file_printf(w, "<th>border mass</th>");
    for (int r = 0; r < a->n_regions; ++r) {
        gm_safe_file_printf(w, "<th>");
        gm_rp_text(w, a->regions[r].name);
        gm_safe_file_printf(w, " mass</th>");
    }
    gm_safe_file_printf(w, "<th class=\"l\">markers</th><th>mean map</th><th class=\"l\">members</th></tr></thead>\n"
                    "<tbody>\n");
    char b1[48], b2[96];
    for (int k = 0; k < c->spray.k; ++k) {
        const gm_audit_cluster *cl = &c->clusters[k];
        gm_safe_file_printf(w, "<tr%s><td>%d</td><td>%d</td><td>%s</td>",
                     cl->off_object && cl->qualifies ? " class=\"flagged\"" : "", k, cl->size,
                     gm_rp_num(b1, cl->accuracy, 2));
        if (a->has_objects) gm_safe_file_printf(w, "<td>%s</td>", gm_rp_stat(b2, &cl->inside));
        gm_safe_file_printf(w, "<td>%s</td>", gm_rp_stat(b2, &cl->border));
        for (int r = 0; r < a->n_regions; ++r) gm_safe_file_printf(w, "<td>%s</td>", gm_rp_stat(b2, &cl->regions[r]));
        gm_safe_file_printf(w, "<td class=\"l\">%s%s%s</td><td>",
                     cl->off_object ? "<span class=\"err\">off object</span>" : "",
                     cl->off_object && cl->qualifies ? ", " : "", cl->qualifies ? "qualifies" : "");
        if (cl->mean_map && a->map_h > 0 && a->map_w > 0) {
            char name[64];
            snprintf(name, sizeof name, "class%d_cluster%d_mean.png", ci, k);
            GM_TRY(gm_rp_map_png(p, cl->mean_map, name));
            gm_safe_file_printf(w, "<img class=\"small\" src=\"report/%s\" alt=\"mean map of cluster %d\"/>", name, k);
        } else gm_safe_file_printf(w, DASH);
        gm_safe_file_printf(w, "</td><td class=\"l\"><div class=\"thumbs\">\n");
        for (int m = 0; m < cl->size && m < p->o->samples_per_cluster; ++m) GM_TRY(gm_rp_thumb(w, p, cl->members[m]));
        gm_safe_file_printf(w, "</div></td></tr>\n");
    }
    gm_safe_file_printf(w, "</tbody>\n</table>\n");
    return GM_OK;
}

static gm_status gm_rp_class(gm_safe_file *w, gm_rp_pictures *p, int ci) {
    const gm_audit *a = p->a;
    const gm_audit_class *c = &a->classes[ci];
    gm_safe_file_printf(w, "<section id=\"class-%d\">\n<h2>", ci);
    gm_rp_text(w, c->name);
    gm_safe_file_printf(w, "%s</h2>\n<p>", c->flagged ? " <span class=\"flag\">FLAGGED</span>" : "");
    if (c->reason[0]) {
        gm_safe_file_printf(w, "%s", c->flagged ? "" : "most suspicious finding: ");
        gm_rp_text(w, c->reason);
        gm_safe_file_printf(w, "<br/>");
    }
    if (c->error) {
        gm_safe_file_printf(w, "<span class=\"err\">");
        gm_rp_text(w, c->error);
        gm_safe_file_printf(w, "</span><br/>");
    }
    char b1[48], b2[96];
    gm_safe_file_printf(w, "model class ");
    gm_rp_model_class(w, a, c->model_class);
    gm_safe_file_printf(w, "; %d images, %d explained, accuracy %s", c->n_images, c->n_explained,
                 gm_rp_num(b1, c->accuracy, 2));
    if (a->has_objects) gm_safe_file_printf(w, "; in-object mass %s", gm_rp_stat(b2, &c->inside));
    gm_safe_file_printf(w, "; suspicion %s</p>\n<div class=\"pics\">\n", gm_rp_num(b1, c->suspicion, 2));
    if (c->mean_map && a->map_h > 0 && a->map_w > 0) {
        char name[64];
        snprintf(name, sizeof name, "class%d_mean.png", ci);
        GM_TRY(gm_rp_map_png(p, c->mean_map, name));
        gm_safe_file_printf(w, "<figure><img class=\"map\" src=\"report/%s\" alt=\"class-mean map\"/>"
                        "<figcaption>class-mean map</figcaption></figure>\n", name);
    }
    if (c->spray.n > 0 && c->spray.n_eigen > 0 && c->spray.eigenvalues) {
        char name[64];
        snprintf(name, sizeof name, "class%d_spectrum.svg", ci);
        char *path = gm_cli_printf("%s/%s", p->pic_dir, name);
        if (!path) return gm_error(GM_ERR_NOMEM, "%s/%s: out of memory", p->pic_dir, name);
        gm_status st = gm_rp_spectrum_svg(c, path);
        free(path);
        GM_TRY(st);
        gm_safe_file_printf(w, "<figure class=\"plot\"><img class=\"plot\" src=\"report/%s\" "
                        "alt=\"SpRAy eigenvalue spectrum\"/>"
                        "<figcaption>SpRAy spectrum of %d maps: k = %d, eigengap %s</figcaption></figure>\n",
                     name, c->spray.n, c->spray.k, gm_rp_num(b1, c->spray.eigengap, 3));
    }
    gm_safe_file_printf(w, "</div>\n");
    GM_TRY(gm_rp_clusters(w, p, ci));
    GM_TRY(gm_rp_worst(w, p, ci));
    gm_safe_file_printf(w, "</section>\n");
    return GM_OK;
}

static void gm_rp_errors(gm_safe_file *w, const gm_audit *a) {
    gm_safe_file_printf(w, "<section id=\"errors\">\n<h2>Errors and notes</h2>\n");
    int any = 0;
    for (int pass = 0; pass < 3; ++pass) {
        static const char *titles[] = {"Images not explained", "Notes", "Class problems"};
        int n = pass == 2 ? a->n_classes : a->n_images, opened = 0;
        for (int i = 0; i < n; ++i) {
            const char *what = pass == 2 ? a->classes[i].name : a->images[i].path;
            const char *msg = pass == 0 ? a->images[i].error : pass == 1 ? a->images[i].note : a->classes[i].error;
            if (pass == 0 && a->images[i].ok && !msg) continue;
            if (pass != 0 && !msg) continue;
            if (!opened) gm_safe_file_printf(w, "<h3>%s</h3>\n<ul>\n", titles[pass]);
            opened = any = 1;
            gm_safe_file_printf(w, "<li><code>");
            gm_rp_text(w, what);
            gm_safe_file_printf(w, "</code>: ");
            gm_rp_text(w, msg ? msg : "not explained");
            gm_safe_file_printf(w, "</li>\n");
        }
        if (opened) gm_safe_file_printf(w, "</ul>\n");
    }
    if (!any) gm_safe_file_printf(w, "<p>None.</p>\n");
    gm_safe_file_printf(w, "</section>\n");
}

static gm_status gm_rp_check(const gm_audit *a, const char *dir) {
    if (a->n_images < 0 || (a->n_images > 0 && !a->images) || a->n_classes < 0 || (a->n_classes > 0 && !a->classes) ||
        a->n_regions < 0 || a->n_regions > GM_AUDIT_MAX_REGIONS)
        return gm_error(GM_ERR_INVALID_ARG, "%s/report.html: the audit's image, class or region counts are invalid",
                        dir);
    for (int i = 0; a->class_order && i < a->n_classes; ++i)
        if (a->class_order[i] < 0 || a->class_order[i] >= a->n_classes)
            return gm_error(GM_ERR_INVALID_ARG, "%s/report.html: class_order[%d] = %d is not a class", dir, i,
                            a->class_order[i]);
    for (int c = 0; c < a->n_classes; ++c) {
        const gm_audit_class *cl = &a->classes[c];
        for (int k = 0; cl->clusters && k < cl->spray.k; ++k)
            for (int m = 0; m < cl->clusters[k].size; ++m)
                if (!cl->clusters[k].members || cl->clusters[k].members[m] < 0 ||
                    cl->clusters[k].members[m] >= a->n_images)
                    return gm_error(GM_ERR_INVALID_ARG, "%s/report.html: class %d cluster %d has an invalid member",
                                    dir, c, k);
    }
    return GM_OK;
}

gm_status gm_audit_write_report(const gm_audit *a, const char *dir, const gm_audit_report_options *o) {
    if (!a || !dir) return gm_error(GM_ERR_INVALID_ARG, "report.html: no audit or no folder");
    GM_TRY(gm_rp_check(a, dir));
    gm_audit_report_options defaults;
    gm_audit_report_options_default(&defaults);
    if (!o) o = &defaults;
    char *pic_dir = gm_cli_printf("%s/%s", dir, "report"), *html = gm_cli_printf("%s/%s", dir, "report.html");
    int *order = malloc((a->n_classes > 0 ? (size_t)a->n_classes : 1) * sizeof *order);
    gm_status st = GM_OK;
    gm_rp_pictures pics = {0};
    gm_safe_file w = {0};
    struct stat sb;
    if (!pic_dir || !html || !order) {
        st = gm_error(GM_ERR_NOMEM, "%s/report.html: out of memory", dir);
        goto done;
    }
    for (int i = 0; i < a->n_classes; ++i) order[i] = a->class_order ? a->class_order[i] : i;
    if (mkdir(pic_dir, 0777) != 0 && errno != EEXIST) {
        st = gm_error(GM_ERR_IO, "%s: cannot create the report's picture folder %s: %s", html, pic_dir,
                      strerror(errno));
        goto done;
    }
    if (stat(pic_dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        st = gm_error(GM_ERR_IO, "%s: %s is not a folder", html, pic_dir);
        goto done;
    }
    if ((st = gm_rp_pictures_init(&pics, a, o, pic_dir)) != GM_OK) goto done;
    if ((st = gm_safe_file_open(&w, html, NULL)) != GM_OK) goto done;
    gm_rp_head(&w, a);
    gm_rp_summary(&w, a, order);
    for (int i = 0; i < a->n_classes && st == GM_OK; ++i) st = gm_rp_class(&w, &pics, order[i]);
    if (st == GM_OK) {
        gm_rp_errors(&w, a);
        gm_safe_file_printf(&w, "</body>\n</html>\n");
        st = gm_safe_file_commit(&w);
    } else gm_safe_file_abort(&w);
done:
    if (pics.done) gm_rp_pictures_free(&pics);
    free(order);
    free(html);
    free(pic_dir);
    return st;
}
