/* audit_kmeans.c — SpRAy's clustering step (explain/audit_spray.h, step 6): seeded k-means++ / Lloyd
 * k-means with restarts on the spectral embedding and the renumbering of clusters by size
 * (explain/audit_spray_internal.h), and the adjusted Rand index that compares two labelings. */
#include "audit_spray_internal.h"
#include "audit_spray.h"
#include "host/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GM_KMEANS_MAX_ITER 300

/* splitmix64: a local stream per call, so results depend on the seed only (no shared state). */
typedef struct gm_kmeans_rng { uint64_t state; } gm_kmeans_rng;

static uint64_t rng_next(gm_kmeans_rng *r) { return gm_mix64(r->state += GM_RNG_GOLDEN); }

/* [0, 1) with 53 random bits. */
static double rng_uniform(gm_kmeans_rng *r) { return gm_unit53(rng_next(r)); }

static int rng_index(gm_kmeans_rng *r, int n) {
    int i = (int)(rng_uniform(r) * n);
    return i < n ? i : n - 1;
}

/* Everything one run needs, allocated once for all restarts. */
typedef struct kmeans_ws {
    const double *x;
    int n, dim, k;
    double *centres; /* k x dim */
    double *d2;      /* n: squared distance to the nearest centre chosen so far (seeding) */
    int *labels;     /* n: the current run's labels */
    int *sizes;      /* k */
} kmeans_ws;

static double sq_dist(const double *a, const double *b, int dim) {
    double s = 0.0;
    for (int t = 0; t < dim; ++t) {
        double e = a[t] - b[t];
        s += e * e;
    }
    return s;
}

static const double *row_of(const kmeans_ws *w, int i) { return w->x + (size_t)i * (size_t)w->dim; }
static double *centre_of(const kmeans_ws *w, int c) { return w->centres + (size_t)c * (size_t)w->dim; }

static void set_centre(kmeans_ws *w, int c, int point) {
    memcpy(centre_of(w, c), row_of(w, point), (size_t)w->dim * sizeof *w->centres);
}

/* The k-means++ pick for the next centre: probability proportional to d2. When every point already
 * sits on a centre (fewer distinct points than k), any point will do: uniform. */
static int pick_weighted(const kmeans_ws *w, gm_kmeans_rng *rng) {
    double total = 0.0;
    for (int i = 0; i < w->n; ++i) total += w->d2[i];
    if (!(total > 0.0)) return rng_index(rng, w->n);
    double target = rng_uniform(rng) * total, acc = 0.0;
    int pick = -1;
    for (int i = 0; i < w->n; ++i) {
        if (!(w->d2[i] > 0.0)) continue;
        pick = i; /* rounding may leave acc <= target at the end: the last positive weight then */
        acc += w->d2[i];
        if (acc > target) break;
    }
    return pick;
}

/* k-means++ (Arthur and Vassilvitskii): the first centre uniformly, the others by pick_weighted. */
static void seed_centres(kmeans_ws *w, gm_kmeans_rng *rng) {
    set_centre(w, 0, rng_index(rng, w->n));
    for (int i = 0; i < w->n; ++i) w->d2[i] = sq_dist(row_of(w, i), centre_of(w, 0), w->dim);
    for (int c = 1; c < w->k; ++c) {
        set_centre(w, c, pick_weighted(w, rng));
        for (int i = 0; i < w->n; ++i) {
            double d = sq_dist(row_of(w, i), centre_of(w, c), w->dim);
            if (d < w->d2[i]) w->d2[i] = d;
        }
    }
}

/* Each point to its nearest centre (ties: the lower centre). Returns whether any label changed. */
static int assign_points(kmeans_ws *w) {
    int changed = 0;
    for (int i = 0; i < w->n; ++i) {
        int best = 0;
        double bd = sq_dist(row_of(w, i), centre_of(w, 0), w->dim);
        for (int c = 1; c < w->k; ++c) {
            double d = sq_dist(row_of(w, i), centre_of(w, c), w->dim);
            if (d < bd) bd = d, best = c;
        }
        if (w->labels[i] != best) changed = 1;
        w->labels[i] = best;
    }
    return changed;
}

/* An empty cluster takes the point farthest from its own centre (ties: the lower index) among the
 * clusters that keep a member, so every run ends with k non-empty clusters. Since k <= n, some
 * cluster has two members whenever one is empty. Returns whether any point moved. */
static int fill_empty(kmeans_ws *w) {
    memset(w->sizes, 0, (size_t)w->k * sizeof *w->sizes);
    for (int i = 0; i < w->n; ++i) w->sizes[w->labels[i]]++;
    int moved = 0;
    for (int c = 0; c < w->k; ++c) {
        if (w->sizes[c] > 0) continue;
        int far = -1;
        double fd = -1.0;
        for (int i = 0; i < w->n; ++i) {
            if (w->sizes[w->labels[i]] < 2) continue;
            double d = sq_dist(row_of(w, i), centre_of(w, w->labels[i]), w->dim);
            if (d > fd) fd = d, far = i;
        }
        if (far < 0) break; /* unreachable for k <= n; keeps a bad call from indexing -1 */
        w->sizes[w->labels[far]]--;
        w->labels[far] = c;
        w->sizes[c] = 1;
        set_centre(w, c, far);
        moved = 1;
    }
    return moved;
}

/* Centres = the means of their members (fill_empty has left every cluster non-empty). */
static void update_centres(kmeans_ws *w) {
    memset(w->centres, 0, (size_t)w->k * (size_t)w->dim * sizeof *w->centres);
    for (int i = 0; i < w->n; ++i) {
        double *c = centre_of(w, w->labels[i]);
        const double *x = row_of(w, i);
        for (int t = 0; t < w->dim; ++t) c[t] += x[t];
    }
    for (int c = 0; c < w->k; ++c)
        for (int t = 0; t < w->dim; ++t) centre_of(w, c)[t] /= w->sizes[c] > 0 ? w->sizes[c] : 1;
}

/* One seeded run of Lloyd's iterations; returns its inertia (sum of squared distances to the
 * centres). When the loop stops on "no change", the centres are the means of the final labels. */
static double run_once(kmeans_ws *w, gm_kmeans_rng *rng) {
    seed_centres(w, rng);
    for (int i = 0; i < w->n; ++i) w->labels[i] = -1;
    for (int it = 0; it < GM_KMEANS_MAX_ITER; ++it) {
        int changed = assign_points(w);
        changed |= fill_empty(w);
        if (!changed) break;
        update_centres(w);
    }
    double inertia = 0.0;
    for (int i = 0; i < w->n; ++i) inertia += sq_dist(row_of(w, i), centre_of(w, w->labels[i]), w->dim);
    return inertia;
}

/* Cluster ids by decreasing size, ties by the first member's index (which differs between clusters,
 * so the order is total). scratch holds 3k ints. */
static void renumber(const int *in, int n, int k, int *out, int *scratch) {
    int *size = scratch, *first = scratch + k, *rank = scratch + 2 * k;
    for (int c = 0; c < k; ++c) size[c] = 0, first[c] = n;
    for (int i = 0; i < n; ++i) {
        if (size[in[i]]++ == 0) first[in[i]] = i;
    }
    for (int c = 0; c < k; ++c) {
        rank[c] = 0;
        for (int o = 0; o < k; ++o)
            rank[c] += size[o] > size[c] || (size[o] == size[c] && first[o] < first[c]);
    }
    for (int i = 0; i < n; ++i) out[i] = rank[in[i]];
}

static void ws_free(kmeans_ws *w, int *best) {
    free(w->centres);
    free(w->d2);
    free(w->labels);
    free(w->sizes);
    free(best);
}

gm_status gm_spray_kmeans(const double *x, int n, int dim, int k, int restarts, uint64_t seed, int *labels) {
    if (!x || !labels || n < 1 || dim < 1 || k < 1 || k > n || restarts < 1)
        return gm_error(GM_ERR_INVALID_ARG, "spray k-means: bad arguments (n %d, dim %d, k %d, restarts %d)", n,
                        dim, k, restarts);
    kmeans_ws w = {x, n, dim, k, NULL, NULL, NULL, NULL};
    w.centres = malloc((size_t)k * (size_t)dim * sizeof *w.centres);
    w.d2 = malloc((size_t)n * sizeof *w.d2);
    w.labels = malloc((size_t)n * sizeof *w.labels);
    w.sizes = malloc((size_t)3 * (size_t)k * sizeof *w.sizes); /* 3k: renumber's scratch too */
    int *best = malloc((size_t)n * sizeof *best);
    if (!w.centres || !w.d2 || !w.labels || !w.sizes || !best) {
        ws_free(&w, best);
        return gm_error(GM_ERR_NOMEM, "spray k-means: no memory for %d points, k %d", n, k);
    }
    gm_kmeans_rng rng = {seed};
    double best_inertia = INFINITY;
    for (int r = 0; r < restarts; ++r) {
        double inertia = run_once(&w, &rng);
        if (r == 0 || inertia < best_inertia) { /* strict: ties keep the earlier run */
            best_inertia = inertia;
            memcpy(best, w.labels, (size_t)n * sizeof *best);
        }
    }
    renumber(best, n, k, labels, w.sizes);
    ws_free(&w, best);
    return GM_OK;
}

/* ---- adjusted Rand index ---- */

typedef struct label_pair { int a, b; } label_pair;

static int cmp_int(const void *p, const void *q) {
    int a = *(const int *)p, b = *(const int *)q;
    return (a > b) - (a < b);
}

static int cmp_pair(const void *p, const void *q) {
    const label_pair *a = p, *b = q;
    if (a->a != b->a) return (a->a > b->a) - (a->a < b->a);
    return (a->b > b->b) - (a->b < b->b);
}

static double choose2(long long m) { return 0.5 * (double)m * (double)(m - 1); }

/* Sum of C(run, 2) over the runs of equal values of a sorted array: the marginal term of the
 * contingency table, without building the table (labels may be large or sparse). */
static double runs_choose2_int(const int *v, int n) {
    double s = 0.0;
    for (int i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && v[j] == v[i]; ++j) {}
        s += choose2(j - i);
    }
    return s;
}

static double runs_choose2_pair(const label_pair *v, int n) {
    double s = 0.0;
    for (int i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && v[j].a == v[i].a && v[j].b == v[i].b; ++j) {}
        s += choose2(j - i);
    }
    return s;
}

/* Hubert and Arabie: (index - expected) / (max - expected) with index = sum C(n_ij, 2), the
 * expectation sum_i C(a_i, 2) sum_j C(b_j, 2) / C(n, 2) and max = (sum_i C(a_i,2) + sum_j C(b_j,2)) / 2.
 * Writing x, y for the marginal sums over C(n, 2), the denominator is zero only when
 * x + y = 2xy, and since xy <= min(x, y) that needs x = y in {0, 1}: both all singletons or both one
 * cluster, i.e. identical partitions (ARI 1). Returns NaN on a null labeling or no memory. */
double gm_spray_adjusted_rand(const int *a, const int *b, int n) {
    if (n < 2) return 1.0; /* every labeling of 0 or 1 item is the same partition */
    if (!a || !b) return NAN;
    label_pair *p = malloc((size_t)n * sizeof *p);
    int *s = malloc((size_t)n * sizeof *s);
    if (!p || !s) {
        free(p);
        free(s);
        return NAN;
    }
    for (int i = 0; i < n; ++i) p[i].a = a[i], p[i].b = b[i];
    qsort(p, (size_t)n, sizeof *p, cmp_pair);
    double index = runs_choose2_pair(p, n);
    memcpy(s, a, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_int);
    double sum_a = runs_choose2_int(s, n);
    memcpy(s, b, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_int);
    double sum_b = runs_choose2_int(s, n);
    free(p);
    free(s);
    double total = choose2(n);
    if (sum_a == sum_b && (sum_a == 0.0 || sum_a == total)) /* the zero-denominator cases */
        return index == sum_a ? 1.0 : 0.0;                    /* (always identical, see above) */
    double expected = sum_a * sum_b / total;
    return (index - expected) / (0.5 * (sum_a + sum_b) - expected);
}
