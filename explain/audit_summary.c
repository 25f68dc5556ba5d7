/* audit_summary.c — gm_audit_summarize: from the per-image records and audit maps of a dataset audit
 * to the per-class statistics, class-mean maps, SpRAy clusters, shortcut flags and the suspicion
 * order (the rules are stated in explain/audit.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"

/* Running mean and population spread of the defined (finite) values. */
typedef struct gm_acc {
    double sum, sum_sq;
    int n;
} gm_acc;

static void gm_acc_add(gm_acc *s, double v) {
    if (!isfinite(v)) return;
    s->sum += v, s->sum_sq += v * v, ++s->n;
}

static gm_audit_stat gm_acc_stat(const gm_acc *s) {
    gm_audit_stat r = {NAN, NAN, s->n};
    if (s->n == 0) return r;
    r.mean = s->sum / s->n;
    double var = s->sum_sq / s->n - r.mean * r.mean;
    r.sd = sqrt(var > 0 ? var : 0);
    return r;
}

/* The statistics shared by classes and clusters, over `n` image indices. */
typedef struct gm_group_stats {
    gm_audit_stat inside, pointing, border, regions[GM_AUDIT_MAX_REGIONS];
    int n_correct;
} gm_group_stats;

static void gm_group_collect(const gm_audit *a, const int *idx, int n, gm_group_stats *out) {
    gm_acc inside = {0}, pointing = {0}, border = {0}, regions[GM_AUDIT_MAX_REGIONS];
    memset(regions, 0, sizeof regions);
    out->n_correct = 0;
    for (int j = 0; j < n; ++j) {
        const gm_audit_image *im = &a->images[idx[j]];
        out->n_correct += im->correct;
        gm_acc_add(&inside, im->m.inside);
        if (im->m.pointing >= 0) gm_acc_add(&pointing, im->m.pointing);
        gm_acc_add(&border, im->m.border);
        for (int r = 0; r < a->n_regions; ++r) gm_acc_add(&regions[r], im->m.regions[r]);
    }
    out->inside = gm_acc_stat(&inside);
    out->pointing = gm_acc_stat(&pointing);
    out->border = gm_acc_stat(&border);
    for (int r = 0; r < GM_AUDIT_MAX_REGIONS; ++r) out->regions[r] = gm_acc_stat(&regions[r]);
}

/* Mean of the audit maps of `n` images; NULL on allocation failure. */
static float *gm_mean_map(const gm_audit *a, const int *idx, int n) {
    size_t size = (size_t)a->map_h * a->map_w;
    double *sum = calloc(size, sizeof *sum);
    float *mean = malloc(size * sizeof *mean);
    if (!sum || !mean) {
        free(sum), free(mean);
        return NULL;
    }
    for (int j = 0; j < n; ++j) {
        const float *m = a->maps + (size_t)idx[j] * size;
        for (size_t p = 0; p < size; ++p) sum[p] += m[p];
    }
    for (size_t p = 0; p < size; ++p) mean[p] = n ? (float)(sum[p] / n) : 0.0f;
    free(sum);
    return mean;
}

static int gm_cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Median in-object mass over every image with an object (NaN when none). */
static double gm_baseline_inside(const gm_audit *a) {
    double *v = malloc((a->n_images > 0 ? (size_t)a->n_images : 1) * sizeof *v);
    if (!v) return NAN;
    int n = 0;
    for (int i = 0; i < a->n_images; ++i)
        if (a->images[i].ok && isfinite(a->images[i].m.inside)) v[n++] = a->images[i].m.inside;
    double med = NAN;
    if (n) {
        qsort(v, (size_t)n, sizeof *v, gm_cmp_double);
        med = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    }
    free(v);
    return med;
}

/* How far a group's maps sit off the object: max of (1 - inside / baseline) clamped to [0, 1], the
 * border share and the region shares. *what names the largest term for the reason text. */
static double gm_off_score(const gm_audit *a, const gm_group_stats *s, char *what, size_t cap) {
    double best = 0.0;
    snprintf(what, cap, "nothing");
    if (isfinite(a->baseline_inside) && a->baseline_inside > 0 && isfinite(s->inside.mean)) {
        double off = 1.0 - s->inside.mean / a->baseline_inside;
        off = off < 0 ? 0 : off > 1 ? 1 : off;
        if (off > best)
            best = off, snprintf(what, cap, "in-object mass %.2f against a dataset median of %.2f", s->inside.mean,
                                 a->baseline_inside);
    }
    if (isfinite(s->border.mean) && s->border.mean > best)
        best = s->border.mean, snprintf(what, cap, "%.0f%% of the map mass in the border band", 100 * s->border.mean);
    for (int r = 0; r < a->n_regions; ++r)
        if (isfinite(s->regions[r].mean) && s->regions[r].mean > best)
            best = s->regions[r].mean,
            snprintf(what, cap, "%.0f%% of the map mass in region '%s'", 100 * s->regions[r].mean, a->regions[r].name);
    return best;
}

/* Conditions (a) and (b) of explain/audit.h. */
static int gm_is_off_object(const gm_audit *a, const gm_group_stats *s) {
    if (isfinite(a->baseline_inside) && isfinite(s->inside.mean) &&
        s->inside.mean < GM_AUDIT_OFF_OBJECT_RATIO * a->baseline_inside)
        return 1;
    if (isfinite(s->border.mean) && s->border.mean >= GM_AUDIT_REGION_SHARE) return 1;
    for (int r = 0; r < a->n_regions; ++r)
        if (isfinite(s->regions[r].mean) && s->regions[r].mean >= GM_AUDIT_REGION_SHARE) return 1;
    return 0;
}

static void gm_set_class_stats(gm_audit_class *c, const gm_group_stats *s) {
    c->inside = s->inside, c->pointing = s->pointing, c->border = s->border;
    memcpy(c->regions, s->regions, sizeof c->regions);
    c->n_correct = s->n_correct;
    c->accuracy = c->n_explained ? (double)s->n_correct / c->n_explained : NAN;
}

/* Rows j * n / m (j < m) of the n prepared maps: an evenly spaced, deterministic subset. */
static long gm_subset_row(int j, int n, int m) { return (long)((long long)j * n / m); }

/* SpRAy over n prepared maps of d values, bounded by cfg->max_images: a larger class is clustered on
 * an evenly spaced subset, and every other map joins the cluster whose mean (over the subset) is
 * nearest in Euclidean distance. r->labels then covers all n maps. */
static gm_status gm_spray_bounded(const float *prepared, int n, size_t d, const gm_spray_config *cfg, gm_spray_result *r) {
    int m = cfg->max_images;
    if (m < 3 || n <= m) return gm_spray_run(prepared, n, (int)d, cfg, r);
    float *sub = malloc((size_t)m * d * sizeof *sub);
    int *labels = malloc((size_t)n * sizeof *labels), *count = NULL;
    double *mean = NULL;
    gm_status st = sub && labels ? GM_OK : gm_error(GM_ERR_NOMEM, "out of memory for SpRAy of %d maps", n);
    for (int j = 0; st == GM_OK && j < m; ++j)
        memcpy(sub + (size_t)j * d, prepared + (size_t)gm_subset_row(j, n, m) * d, d * sizeof *sub);
    if (st == GM_OK) st = gm_spray_run(sub, m, (int)d, cfg, r);
    if (st == GM_OK) {
        mean = calloc((size_t)r->k * d, sizeof *mean);
        count = calloc((size_t)r->k, sizeof *count);
        if (!mean || !count) st = gm_error(GM_ERR_NOMEM, "out of memory for SpRAy of %d maps", n);
    }
    for (int j = 0; st == GM_OK && j < m; ++j) {
        ++count[r->labels[j]];
        for (size_t p = 0; p < d; ++p) mean[(size_t)r->labels[j] * d + p] += sub[(size_t)j * d + p];
    }
    for (int k = 0; st == GM_OK && k < r->k; ++k)
        for (size_t p = 0; p < d; ++p) mean[(size_t)k * d + p] /= count[k] ? count[k] : 1;
    for (int i = 0, j = 0; st == GM_OK && i < n; ++i) {
        if (j < m && gm_subset_row(j, n, m) == i) {
            labels[i] = r->labels[j++];
            continue;
        }
        double best = INFINITY;
        for (int k = 0; k < r->k; ++k) {
            double dist = 0;
            for (size_t p = 0; p < d; ++p) {
                double diff = prepared[(size_t)i * d + p] - mean[(size_t)k * d + p];
                dist += diff * diff;
            }
            if (dist < best) best = dist, labels[i] = k;
        }
    }
    if (st == GM_OK) free(r->labels), r->labels = labels, r->n = n, labels = NULL;
    free(sub), free(labels), free(count), free(mean);
    return st;
}

/* SpRAy over the class's explained images idx[0..n-1], then its clusters. */
static gm_status gm_class_spray(gm_audit *a, gm_audit_class *c, const int *idx, int n) {
    int size = a->spray_config.size;
    size_t d = (size_t)size * size, msize = (size_t)a->map_h * a->map_w;
    float *prepared = malloc((size_t)n * d * sizeof *prepared);
    if (!prepared) return gm_error(GM_ERR_NOMEM, "out of memory for SpRAy of class '%s' (%d maps)", c->name, n);
    gm_status st = GM_OK;
    for (int j = 0; j < n && st == GM_OK; ++j)
        st = gm_spray_prepare_map(a->maps + (size_t)idx[j] * msize, a->map_h, a->map_w, size, prepared + (size_t)j * d);
    if (st == GM_OK) st = gm_spray_bounded(prepared, n, d, &a->spray_config, &c->spray);
    free(prepared);
    if (st != GM_OK) return gm_error_context(st, "SpRAy of class '%s'", c->name);
    c->clusters = calloc((size_t)c->spray.k, sizeof *c->clusters);
    if (!c->clusters) return gm_error(GM_ERR_NOMEM, "out of memory for the clusters of class '%s'", c->name);
    int min_size = (int)ceil(0.1 * n);
    if (min_size < 3) min_size = 3;
    for (int k = 0; k < c->spray.k; ++k) {
        gm_audit_cluster *cl = &c->clusters[k];
        cl->members = malloc((size_t)n * sizeof *cl->members);
        if (!cl->members) return gm_error(GM_ERR_NOMEM, "out of memory for the clusters of class '%s'", c->name);
        for (int j = 0; j < n; ++j)
            if (c->spray.labels[j] == k) cl->members[cl->size++] = idx[j];
        gm_group_stats s;
        gm_group_collect(a, cl->members, cl->size, &s);
        cl->accuracy = cl->size ? (double)s.n_correct / cl->size : NAN;
        cl->inside = s.inside, cl->pointing = s.pointing, cl->border = s.border;
        memcpy(cl->regions, s.regions, sizeof cl->regions);
        cl->mean_map = gm_mean_map(a, cl->members, cl->size);
        if (!cl->mean_map) return gm_error(GM_ERR_NOMEM, "out of memory for the cluster maps of class '%s'", c->name);
        cl->qualifies = cl->size >= min_size;
        cl->off_object = gm_is_off_object(a, &s);
    }
    for (int j = 0; j < n; ++j) a->images[idx[j]].cluster = c->spray.labels[j];
    return GM_OK;
}

/* Flag and suspicion of one summarised class (explain/audit.h): the suspicion is the largest
 * off-object score of the whole class and of its qualifying clusters; the reason names the flagging
 * cluster with the largest score, or else the largest score found. */
static void gm_class_verdict(const gm_audit *a, gm_audit_class *c, const gm_group_stats *whole) {
    char what[256];
    double best_flagging = -1.0;
    c->suspicion = gm_off_score(a, whole, what, sizeof what);
    c->flagged = 0;
    c->reason[0] = '\0';
    if (c->suspicion > 0) snprintf(c->reason, sizeof c->reason, "whole class: %s", what);
    for (int k = 0; k < c->spray.k && c->clusters; ++k) {
        const gm_audit_cluster *cl = &c->clusters[k];
        if (!cl->qualifies) continue;
        gm_group_stats s;
        s.inside = cl->inside, s.pointing = cl->pointing, s.border = cl->border;
        memcpy(s.regions, cl->regions, sizeof s.regions);
        double score = gm_off_score(a, &s, what, sizeof what);
        int flags = c->spray.k >= 2 && cl->off_object;
        int describe = flags ? score > best_flagging : (!c->flagged && score > c->suspicion);
        if (score > c->suspicion) c->suspicion = score;
        if (flags) c->flagged = 1, best_flagging = score > best_flagging ? score : best_flagging;
        if (describe)
            snprintf(c->reason, sizeof c->reason, "SpRAy cluster %d (%d of %d images, accuracy %.0f%%): %s", k,
                     cl->size, c->n_explained, 100 * cl->accuracy, what);
    }
}

static gm_status gm_summarize_class(gm_audit *a, int ci, int *idx) {
    gm_audit_class *c = &a->classes[ci];
    int n = 0, listed = 0, with_object = 0, outside = 0;
    for (int i = 0; i < a->n_images; ++i) {
        if (a->images[i].cls != ci) continue;
        ++listed;
        a->images[i].cluster = -1;
        if (!a->images[i].ok) continue;
        idx[n++] = i;
        if (isfinite(a->images[i].m.inside)) ++with_object, outside += a->images[i].m.inside < 0.5;
    }
    c->n_images = listed, c->n_explained = n;
    c->outside_share = with_object ? (double)outside / with_object : NAN;
    gm_group_stats whole;
    gm_group_collect(a, idx, n, &whole);
    gm_set_class_stats(c, &whole);
    if (n == 0) return GM_OK;
    c->mean_map = gm_mean_map(a, idx, n);
    if (!c->mean_map) return gm_error(GM_ERR_NOMEM, "out of memory for the mean map of class '%s'", c->name);
    GM_TRY(gm_class_spray(a, c, idx, n));
    gm_class_verdict(a, c, &whole);
    return GM_OK;
}

/* Releases what a previous summary left in a class. */
static void gm_class_reset(gm_audit_class *c) {
    for (int k = 0; c->clusters && k < c->spray.k; ++k) free(c->clusters[k].members), free(c->clusters[k].mean_map);
    free(c->clusters);
    c->clusters = NULL;
    gm_spray_result_free(&c->spray);
    memset(&c->spray, 0, sizeof c->spray);
    free(c->mean_map);
    c->mean_map = NULL;
}

static int gm_by_suspicion(const void *x, const void *y, void *ctx) {
    const gm_audit_class *cs = ctx;
    int i = *(const int *)x, j = *(const int *)y;
    const gm_audit_class *a = &cs[i], *b = &cs[j];
    if (a->flagged != b->flagged) return b->flagged - a->flagged;
    double sa = isfinite(a->suspicion) ? a->suspicion : -1, sb = isfinite(b->suspicion) ? b->suspicion : -1;
    if (sa != sb) return sa < sb ? 1 : -1;
    return i - j;
}

/* Insertion sort with a context (qsort_r is not C11); class counts are small. */
static void gm_sort_classes(int *order, int n, const gm_audit_class *classes) {
    for (int i = 1; i < n; ++i) {
        int v = order[i], j = i - 1;
        while (j >= 0 && gm_by_suspicion(&order[j], &v, (void *)classes) > 0) order[j + 1] = order[j], --j;
        order[j + 1] = v;
    }
}

gm_status gm_audit_summarize(gm_audit *a) {
    if (!a || (a->n_images > 0 && (!a->images || !a->maps)) || a->map_h <= 0 || a->map_w <= 0)
        return gm_error(GM_ERR_INVALID_ARG, "gm_audit_summarize: incomplete audit");
    a->baseline_inside = gm_baseline_inside(a);
    int *idx = malloc((a->n_images > 0 ? (size_t)a->n_images : 1) * sizeof *idx);
    free(a->class_order);
    a->class_order = malloc((a->n_classes > 0 ? (size_t)a->n_classes : 1) * sizeof *a->class_order);
    if (!idx || !a->class_order) {
        free(idx);
        return gm_error(GM_ERR_NOMEM, "out of memory summarising %d images", a->n_images);
    }
    gm_status st = GM_OK;
    a->n_flagged = 0;
    for (int c = 0; c < a->n_classes && st == GM_OK; ++c) {
        gm_class_reset(&a->classes[c]);
        st = gm_summarize_class(a, c, idx);
        a->n_flagged += a->classes[c].flagged;
        a->class_order[c] = c;
    }
    free(idx);
    if (st == GM_OK) gm_sort_classes(a->class_order, a->n_classes, a->classes);
    return st;
}
