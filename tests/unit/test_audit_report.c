/* test_audit_report.c — gm_audit_write_report (host/cli/audit_output.h) on a hand-built audit (three
 * classes: one plain, one flagged with two SpRAy clusters, one with a class error and no images; names
 * and messages holding & < > " ' and an invalid UTF-8 byte; NaN statistics; a listed image deleted
 * before the report is written; PNG images written by the test). Checks: GM_OK; the page and every
 * SVG pass a strict XML parser (`xmllint --noout --nonet`, a declared test dependency); every src is
 * a relative path to an existing file under DIR and every #href names an id of the page; no scripts
 * and no network references; names appear escaped and never raw; the flagged class heads the
 * summary table; the deleted image is captioned "image unreadable"; mean maps are upscaled to at
 * least 128 px and overlays have the image's size (large ones reduced to 256 px). Failures: a DIR
 * that is a regular file or lies under a missing folder, and a full disk (the temporary page linked
 * to /dev/full), return an error naming report.html and leave no report.html. GM_TEST_KEEP=1 keeps
 * the temporary folder for a look at the page. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <ctype.h>

#include "audit_output.h"
#include "host/image.h"
#include "host/png_write.h"
#include "test_support.h"

enum { MH = 8, MW = 8, N_IMAGES = 8, N_CLASSES = 3 };

static char *join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static char *dup_str(const char *s) { return s ? strdup(s) : NULL; }

static gm_audit_stat stat_of(double mean, double sd, int n) { return (gm_audit_stat){mean, sd, n}; }
static gm_audit_stat stat_nan(void) { return (gm_audit_stat){NAN, NAN, 0}; }

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s) s[n] = 0;
    fclose(f);
    return s;
}

static int exists(const char *path) { return access(path, F_OK) == 0; }
static int mkdir_ok(const char *path) { return mkdir(path, 0777) == 0; }

/* An event-handler attribute: " on<letters>=". */
static int has_handler(const char *lower) {
    for (const char *p = strstr(lower, " on"); p; p = strstr(p + 1, " on")) {
        const char *q = p + 3;
        while (*q >= 'a' && *q <= 'z') ++q;
        if (q > p + 3 && *q == '=') return 1;
    }
    return 0;
}

static const char *model_names[] = {"cat", "dog <big> & \"co\"", "fish"};

/* Image i of the test set: class, file (NULL = listed but never written), size, in-object mass. */
static const struct {
    int cls;
    const char *file;
    int w, h, ok, has_object;
    double inside;
} spec[N_IMAGES] = {
    {0, "a0.png", 300, 200, 1, 1, 0.7}, {0, "a1.png", 12, 8, 1, 1, 0.6},  {0, "a2.png", 8, 8, 1, 0, NAN},
    {0, NULL, 0, 0, 0, 0, NAN},       {1, "b0.png", 16, 16, 1, 1, 0.2}, {1, "b1.png", 16, 16, 1, 1, 0.1},
    {1, "b2.png", 8, 16, 1, 1, 0.8},  {1, "gone.png", 16, 16, 1, 1, 0.05},
};

static void set_cluster(gm_audit_cluster *cl, const int *members, int n, int off) {
    cl->size = n;
    cl->members = malloc((size_t)n * sizeof *cl->members);
    memcpy(cl->members, members, (size_t)n * sizeof *members);
    cl->accuracy = 0.5;
    cl->inside = stat_of(off ? 0.075 : 0.5, 0.025, n);
    cl->pointing = stat_of(0.5, 0.5, n);
    cl->border = stat_of(off ? 0.6 : 0.1, NAN, n);
    cl->regions[0] = off ? stat_nan() : stat_of(0.125, 0.0, n);
    cl->mean_map = malloc(MH * MW * sizeof(float));
    for (int i = 0; i < MH * MW; ++i) cl->mean_map[i] = off ? (float)(i % MW) / 20.0f : (float)(i / MW) / 20.0f;
    cl->qualifies = 1;
    cl->off_object = off;
}

static void set_spray(gm_spray_result *s, int n, int k, const double *eig, int n_eigen, double gap) {
    s->n = n;
    s->k = k;
    s->n_eigen = n_eigen;
    s->eigenvalues = malloc((size_t)n_eigen * sizeof *s->eigenvalues);
    memcpy(s->eigenvalues, eig, (size_t)n_eigen * sizeof *eig);
    s->eigengap = gap;
    s->labels = calloc((size_t)n, sizeof *s->labels);
}

/* Builds the audit; images are written into src_dir (gone.png is listed but not written). */
static int build_audit(gm_audit *a, const char *src_dir) {
    memset(a, 0, sizeof *a);
    a->model_path = dup_str("/models/m <1>.h5");
    a->data_path = dup_str("/data/list&.csv");
    a->method = dup_str("gradcam");
    a->target_layer = dup_str("conv5");
    a->target_mode = dup_str("label");
    a->command_line = dup_str("gradmap audit --data 'x&y' --out \"o\"");
    a->device = dup_str("cpu");
    a->seed = 42;
    /* Filled by hand: the parsers and defaults live in files this test does not depend on. */
    a->metric_options = (gm_audit_metric_options){GM_AUDIT_POINTING_TOLERANCE_PX, GM_AUDIT_BORDER_FRACTION};
    a->spray_config = (gm_spray_config){32, 10, 8, 16, 10, 0, 2000};
    snprintf(a->regions[0].name, sizeof a->regions[0].name, "corner");
    for (int j = 0; j < 4; ++j) a->regions[0].v[j] = j < 2 ? 75.0 : 100.0, a->regions[0].percent[j] = 1;
    a->n_regions = 1;
    a->has_objects = 1;
    a->model_class_names = model_names;
    a->n_model_classes = 3;
    a->map_h = MH, a->map_w = MW;
    a->n_images = N_IMAGES;
    a->images = calloc(N_IMAGES, sizeof *a->images);
    a->maps = calloc((size_t)N_IMAGES * MH * MW, sizeof(float));
    for (int i = 0; i < N_IMAGES; ++i) {
        gm_audit_image *im = &a->images[i];
        char name[64];
        snprintf(name, sizeof name, "%s", spec[i].file ? spec[i].file : "a3 <broken>.png");
        im->path = join(src_dir, name);
        im->cls = spec[i].cls;
        im->ok = spec[i].ok;
        im->width = spec[i].w, im->height = spec[i].h;
        im->predicted = spec[i].ok ? (i % 3 == 0 ? 2 : spec[i].cls) : -1;
        im->probability = 0.9f;
        im->target = spec[i].cls;
        im->correct = im->predicted == spec[i].cls;
        im->has_object = spec[i].has_object;
        im->m.mass = spec[i].ok ? 10.0 : 0.0;
        im->m.inside = spec[i].inside;
        im->m.pointing = spec[i].has_object ? 1 : -1;
        im->m.point_distance = NAN;
        im->m.border = spec[i].ok ? 0.1 * (i % 4) : NAN;
        im->m.regions[0] = spec[i].ok ? 0.05 * i : NAN;
        im->cluster = -1;
        if (!spec[i].ok) im->error = dup_str("decode failed: \xff<bad> & \"quoted\" 'x'");
        if (i == 2) im->note = dup_str("mask missing: explained without object <note>");
        for (int p = 0; p < MH * MW && spec[i].ok; ++p) a->maps[(size_t)i * MH * MW + p] = (float)((p + i) % 8) / 7.0f;
        if (spec[i].file && strcmp(spec[i].file, "gone.png") != 0) {
            int w = spec[i].w, h = spec[i].h;
            uint8_t *px = malloc((size_t)w * h * 3);
            for (int p = 0; p < w * h * 3; ++p) px[p] = (uint8_t)(p * 7 + i * 31);
            gm_status st = gm_png_write(im->path, px, w, h, 3);
            free(px);
            if (st != GM_OK) {
                fprintf(stderr, "  writing %s: %s\n", im->path, gm_last_error());
                return 0;
            }
        }
    }
    a->n_classes = N_CLASSES;
    a->classes = calloc(N_CLASSES, sizeof *a->classes);
    const char *names[N_CLASSES] = {"a&b <c>", "dog's \"best\"", "empty"};
    for (int c = 0; c < N_CLASSES; ++c) {
        gm_audit_class *cl = &a->classes[c];
        cl->name = dup_str(names[c]);
        cl->model_class = c < 2 ? c : -1;
        cl->inside = cl->pointing = cl->border = cl->regions[0] = stat_nan();
        cl->accuracy = cl->outside_share = cl->suspicion = NAN;
    }
    gm_audit_class *c0 = &a->classes[0], *c1 = &a->classes[1], *c2 = &a->classes[2];
    c0->n_images = 4, c0->n_explained = 3, c0->n_correct = 2, c0->accuracy = 2.0 / 3.0;
    c0->inside = stat_of(0.65, 0.05, 2), c0->pointing = stat_of(1.0, 0.0, 2), c0->border = stat_of(0.1, 0.08, 3);
    c0->outside_share = 0.0, c0->suspicion = 0.3;
    snprintf(c0->reason, sizeof c0->reason, "border share 0.30 < 0.5");
    static const double eig0[] = {0.0, 0.5, 0.9}, eig1[] = {0.0, 0.02, 1.1, 1.3};
    set_spray(&c0->spray, 3, 1, eig0, 3, 0.5);
    c0->clusters = calloc(1, sizeof *c0->clusters);
    set_cluster(&c0->clusters[0], (const int[]){0, 1, 2}, 3, 0);
    c1->n_images = 4, c1->n_explained = 4, c1->n_correct = 2, c1->accuracy = 0.5;
    c1->inside = stat_of(0.29, 0.3, 4), c1->pointing = stat_of(0.5, 0.5, 4), c1->border = stat_of(0.3, 0.1, 4);
    c1->regions[0] = stat_of(0.2, 0.05, 4);
    c1->outside_share = 0.75, c1->suspicion = 0.9, c1->flagged = 1;
    snprintf(c1->reason, sizeof c1->reason, "cluster 1: in-object mass 0.08 < 0.5 x baseline 0.60 <&>");
    set_spray(&c1->spray, 4, 2, eig1, 4, 1.08);
    c1->clusters = calloc(2, sizeof *c1->clusters);
    set_cluster(&c1->clusters[0], (const int[]){4, 6}, 2, 0);
    set_cluster(&c1->clusters[1], (const int[]){5, 7}, 2, 1);
    c2->error = dup_str("no images <none> & \"nothing\"");
    c2->suspicion = 0.0;
    for (int c = 0; c < 2; ++c) {
        gm_audit_class *cl = &a->classes[c];
        cl->mean_map = malloc(MH * MW * sizeof(float));
        for (int i = 0; i < MH * MW; ++i) cl->mean_map[i] = (float)i / (MH * MW) * 0.6f;
        for (int k = 0; k < cl->spray.k; ++k)
            for (int m = 0; m < cl->clusters[k].size; ++m) a->images[cl->clusters[k].members[m]].cluster = k;
    }
    a->baseline_inside = 0.6;
    a->n_flagged = 1;
    a->class_order = malloc(N_CLASSES * sizeof *a->class_order);
    a->class_order[0] = 1, a->class_order[1] = 0, a->class_order[2] = 2;
    return 1;
}

/* Frees what build_audit allocated (gm_audit_free's contract, without needing SpRAy's code). */
static void free_audit(gm_audit *a) {
    for (int i = 0; a->images && i < a->n_images; ++i) {
        free(a->images[i].path);
        free(a->images[i].error);
        free(a->images[i].note);
    }
    for (int c = 0; a->classes && c < a->n_classes; ++c) {
        gm_audit_class *cl = &a->classes[c];
        for (int k = 0; cl->clusters && k < cl->spray.k; ++k) {
            free(cl->clusters[k].members);
            free(cl->clusters[k].mean_map);
        }
        free(cl->clusters);
        free(cl->spray.eigenvalues);
        free(cl->spray.labels);
        free(cl->mean_map);
        free(cl->name);
        free(cl->error);
    }
    char *owned[] = {a->model_path, a->data_path, a->method, a->target_layer, a->target_mode, a->command_line,
                     a->device};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; ++i) free(owned[i]);
    free(a->images);
    free(a->classes);
    free(a->maps);
    free(a->class_order);
    memset(a, 0, sizeof *a);
}

static int xmllint_ok(const char *path) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "xmllint --noout --nonet '%s'", path);
    return system(cmd) == 0;
}

/* Every value of attribute `attr` (e.g. " src=\"") in html, checked one by one. */
static void check_links(gm_test_counts *c, const char *html, const char *dir) {
    int n_src = 0, bad_src = 0, n_svg = 0, bad_svg = 0, n_href = 0, bad_href = 0;
    for (int pass = 0; pass < 2; ++pass) {
        const char *key = pass == 0 ? " src=\"" : " href=\"";
        for (const char *p = strstr(html, key); p; p = strstr(p + 1, key)) {
            const char *v = p + strlen(key), *e = strchr(v, '"');
            if (!e) break;
            char val[1024];
            snprintf(val, sizeof val, "%.*s", (int)(e - v), v);
            if (pass == 1 && val[0] == '#') {
                char id[1100];
                snprintf(id, sizeof id, " id=\"%s\"", val + 1);
                ++n_href;
                if (!strstr(html, id)) fprintf(stderr, "  href %s names no id\n", val), ++bad_href;
                continue;
            }
            int ok = strncasecmp(val, "http", 4) != 0 && strncmp(val, "//", 2) != 0 && val[0] != '/' &&
                     !strstr(val, "..") && !strchr(val, ':');
            char *full = join(dir, val);
            ok = ok && full && exists(full);
            if (pass == 0) ++n_src;
            else ++n_href;
            if (!ok) {
                fprintf(stderr, "  %s%s is not a relative path to an existing file\n", key + 1, val);
                if (pass == 0) ++bad_src;
                else ++bad_href;
            }
            size_t len = strlen(val);
            if (ok && len > 4 && strcmp(val + len - 4, ".svg") == 0) {
                ++n_svg;
                if (!xmllint_ok(full)) fprintf(stderr, "  %s is not well-formed\n", val), ++bad_svg;
            }
            free(full);
        }
    }
    gm_test_check(c, n_src >= 10 && bad_src == 0, "report: %d src values, %d not relative existing files", n_src,
                  bad_src);
    gm_test_check(c, n_href >= 5 && bad_href == 0, "report: %d href values, %d dangling", n_href, bad_href);
    gm_test_check(c, n_svg == 2 && bad_svg == 0, "report: %d spectrum SVGs linked (2 expected), %d rejected by xmllint",
                  n_svg, bad_svg);
}

static void check_picture_size(gm_test_counts *c, const char *dir, const char *name, int w, int h, int min_side) {
    char *path = join(dir, name);
    gm_image img = {0};
    gm_status st = gm_image_load(path, &img);
    int ok = st == GM_OK && (min_side ? (img.width >= min_side || img.height >= min_side)
                                      : (img.width == w && img.height == h));
    gm_test_check(c, ok, "report: %s is %dx%d (%s)", name, img.width, img.height,
                  st == GM_OK ? "read" : gm_last_error());
    gm_image_free(&img);
    free(path);
}

static void check_page(gm_test_counts *c, const char *dir) {
    char *path = join(dir, "report.html"), *tmp = join(dir, "report.html.tmp");
    char *html = read_text(path);
    gm_test_check(c, html != NULL && !exists(tmp), "report: report.html written, no report.html.tmp left");
    if (!html) goto done;
    gm_test_check(c, xmllint_ok(path), "report: xmllint --noout --nonet accepts report.html");
    gm_test_check(c, strncmp(html, "<!DOCTYPE html>", 15) == 0 && strstr(html, "<meta charset=\"utf-8\"/>") &&
                         strstr(html, "<html xmlns=\"http://www.w3.org/1999/xhtml\""),
                  "report: polyglot doctype, namespace and charset");
    check_links(c, html, dir);
    gm_test_check(c, strstr(html, "a&amp;b &lt;c&gt;") && !strstr(html, "a&b <c>"),
                  "report: class name a&b <c> escaped, never raw");
    gm_test_check(c, strstr(html, "dog&#39;s &quot;best&quot;") && !strstr(html, "dog's"),
                  "report: quotes escaped in the class name");
    gm_test_check(c, strstr(html, "dog &lt;big&gt; &amp; &quot;co&quot;") != NULL,
                  "report: model class names escaped in captions");
    gm_test_check(c, !strchr(html, '\xff') && strstr(html, "decode failed: \xEF\xBF\xBD&lt;bad&gt;"),
                  "report: invalid UTF-8 byte of an error message replaced by U+FFFD");
    char *lower = strdup(html);
    for (char *p = lower; *p; ++p) *p = (char)tolower((unsigned char)*p);
    const char *ns = strstr(lower, "http");
    gm_test_check(c, !strstr(lower, "<script") && !strstr(lower, "javascript:") && !has_handler(lower),
                  "report: no scripts");
    gm_test_check(c, ns && strncmp(ns, "http://www.w3.org/1999/xhtml", 28) == 0 && !strstr(ns + 4, "http") &&
                         !strstr(lower, "url("),
                  "report: no network references (the only http is the XHTML namespace)");
    free(lower);
    const char *table = strstr(html, "<table class=\"summary\">"), *end = table ? strstr(table, "</table>") : NULL;
    const char *f1 = table ? strstr(table, "href=\"#class-1\"") : NULL;
    const char *f0 = table ? strstr(table, "href=\"#class-0\"") : NULL;
    const char *f2 = table ? strstr(table, "href=\"#class-2\"") : NULL;
    const char *flag = f1 ? strstr(f1, "FLAGGED") : NULL, *row_end = f1 ? strstr(f1, "</tr>") : NULL;
    gm_test_check(c, f1 && f0 && f2 && f1 < f0 && f0 < f2 && f2 < end && flag && flag < row_end,
                  "report: the flagged class heads the summary table, marked FLAGGED");
    gm_test_check(c, strstr(html, "image unreadable: ") != NULL && !strstr(html, "img7_overlay.png"),
                  "report: the deleted image is captioned \"image unreadable\" and has no <img>");
    gm_test_check(c, strstr(html, "no images &lt;none&gt;") && strstr(html, "mask missing: explained without object") &&
                         strstr(html, "a3 &lt;broken&gt;.png"),
                  "report: class error, note and image error listed");
    gm_test_check(c, strstr(html, "<th>corner mass</th>") && strstr(html, "0.60") && strstr(html, "&#8211;"),
                  "report: region column, baseline and NaN shown as a dash");
    char *pics = join(dir, "report");
    check_picture_size(c, pics, "class1_mean.png", 0, 0, 128);
    check_picture_size(c, pics, "class1_cluster1_mean.png", 0, 0, 128);
    check_picture_size(c, pics, "img0_overlay.png", 256, 171, 0); /* a large image is reduced */
    check_picture_size(c, pics, "img1_overlay.png", 12, 8, 0);
    check_picture_size(c, pics, "img6_overlay.png", 8, 16, 0);
    char *svg_path = join(pics, "class1_spectrum.svg");
    char *svg = read_text(svg_path);
    gm_test_check(c, svg && strstr(svg, "xmlns=\"http://www.w3.org/2000/svg\"") && strstr(svg, "stroke-dasharray") &&
                         strstr(svg, "k = 2, eigengap 1.08"),
                  "report: class 1 spectrum SVG marks k = 2 and its eigengap");
    char *no_svg = join(pics, "class2_spectrum.svg");
    gm_test_check(c, !exists(no_svg), "report: no spectrum for the class without images");
    free(no_svg);
    free(svg);
    free(svg_path);
    free(pics);
    free(html);
done:
    free(tmp);
    free(path);
}

static void check_failures(gm_test_counts *c, const gm_audit *a, const char *root) {
    gm_audit_report_options o;
    gm_audit_report_options_default(&o);
    /* DIR is a regular file. */
    char *file = join(root, "plain_file");
    FILE *f = fopen(file, "w");
    if (f) fclose(f);
    gm_status st = gm_audit_write_report(a, file, &o);
    gm_test_check(c, st != GM_OK && strstr(gm_last_error(), "report"), "failure: DIR is a regular file -> %s (%s)",
                  gm_status_name(st), gm_last_error());
    /* DIR under a missing folder. */
    char *missing = join(root, "no/such/dir");
    st = gm_audit_write_report(a, missing, &o);
    char *missing_html = join(missing, "report.html");
    gm_test_check(c, st == GM_ERR_IO && !exists(missing_html), "failure: missing parent -> %s (%s)",
                  gm_status_name(st), gm_last_error());
    /* Full disk: the temporary page is a link to /dev/full, so every flush fails with ENOSPC. */
    char *full_dir = join(root, "full");
    char *full_tmp = join(full_dir, "report.html.tmp"), *full_html = join(full_dir, "report.html");
    if (access("/dev/full", W_OK) == 0 && mkdir_ok(full_dir) && symlink("/dev/full", full_tmp) == 0) {
        st = gm_audit_write_report(a, full_dir, &o);
        gm_test_check(c, st == GM_ERR_IO && strstr(gm_last_error(), "report.html") && !exists(full_html) &&
                             !exists(full_tmp),
                      "failure: full disk -> %s (%s), no report.html left", gm_status_name(st), gm_last_error());
    } else {
        gm_test_check(c, 0, "failure: cannot set up the /dev/full link: %s", strerror(errno));
    }
    free(full_dir);
    free(full_tmp);
    free(full_html);
    free(missing_html);
    free(missing);
    free(file);
}

int main(void) {
    gm_test_counts c = {0, 0};
    gm_test_check(&c, system("command -v xmllint >/dev/null 2>&1") == 0,
                  "xmllint is installed (a declared dependency of this test)");
    char root[] = "/tmp/gm_test_audit_report_XXXXXX";
    if (!mkdtemp(root)) {
        gm_test_check(&c, 0, "mkdtemp: %s", strerror(errno));
        return gm_test_summary(&c);
    }
    char *src = join(root, "images"), *out = join(root, "out");
    gm_audit a;
    int built = mkdir_ok(src) && mkdir_ok(out) && build_audit(&a, src);
    gm_test_check(&c, built, "synthetic audit and its images built");
    if (built) {
        gm_audit_report_options o;
        gm_audit_report_options_default(&o);
        gm_test_check(&c, o.colormap == GM_COLORMAP_JET && o.alpha == GM_POST_DEFAULT_ALPHA &&
                              o.samples_per_cluster == 6 && o.worst_per_class == 4,
                      "options default: jet, alpha %g, 6 samples, 4 worst", o.alpha);
        gm_status st = gm_audit_write_report(&a, out, &o);
        gm_test_check(&c, st == GM_OK, "report written: %s (%s)", gm_status_name(st), st ? gm_last_error() : "");
        if (st == GM_OK) check_page(&c, out);
        /* A second run over the same folder (pictures already there) succeeds as well. */
        st = gm_audit_write_report(&a, out, NULL);
        gm_test_check(&c, st == GM_OK, "report rewritten with default options: %s", gm_status_name(st));
        check_failures(&c, &a, root);
        free_audit(&a);
    }
    free(src);
    free(out);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (getenv("GM_TEST_KEEP")) fprintf(stderr, "  kept %s (GM_TEST_KEEP)\n", root);
    else if (system(cmd) != 0) fprintf(stderr, "  could not remove %s\n", root);
    return gm_test_summary(&c);
}
