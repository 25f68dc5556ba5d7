/* compare.c — agreement figures between two sets of maps (see compare.h). Ranks are computed in
 * double by sorting (value, position) pairs; ties share the mean of the ranks they span, so that a
 * Grad-CAM map with many exact zeros (after its ReLU) is ranked the way scipy.stats.spearmanr
 * ranks it. */
#include "compare.h"

#include <math.h>
#include <stdlib.h>

typedef struct gm_ranked {
    float v;
    size_t i;
} gm_ranked;

static int gm_ranked_cmp(const void *pa, const void *pb) {
    const gm_ranked *a = pa, *b = pb;
    if (a->v < b->v) return -1;
    if (a->v > b->v) return 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

/* rank[i] = average 1-based rank of x[i]; pairs is n scratch entries. */
static void gm_ranks(const float *x, size_t n, gm_ranked *pairs, double *rank) {
    for (size_t i = 0; i < n; ++i) pairs[i] = (gm_ranked){x[i], i};
    qsort(pairs, n, sizeof *pairs, gm_ranked_cmp);
    for (size_t lo = 0; lo < n;) {
        size_t hi = lo + 1;
        while (hi < n && pairs[hi].v == pairs[lo].v) ++hi;
        double r = 0.5 * (double)(lo + 1 + hi); /* mean of ranks lo+1 .. hi */
        for (size_t k = lo; k < hi; ++k) rank[pairs[k].i] = r;
        lo = hi;
    }
}

/* Pearson correlation of the two rank vectors. */
static double gm_rank_correlation(const double *ra, const double *rb, size_t n) {
    double ma = 0.0, mb = 0.0;
    for (size_t i = 0; i < n; ++i) ma += ra[i], mb += rb[i];
    ma /= (double)n, mb /= (double)n;
    double sab = 0.0, saa = 0.0, sbb = 0.0;
    for (size_t i = 0; i < n; ++i) {
        double da = ra[i] - ma, db = rb[i] - mb;
        sab += da * db, saa += da * da, sbb += db * db;
    }
    if (saa == 0.0 && sbb == 0.0) return 1.0;
    if (saa == 0.0 || sbb == 0.0) return 0.0;
    double rho = sab / sqrt(saa * sbb);
    return rho > 1.0 ? 1.0 : rho < -1.0 ? -1.0 : rho;
}

static gm_status gm_spearman_scratch(const float *a, const float *b, size_t n, gm_ranked *pairs, double *ra,
                                     double *rb, double *rho) {
    gm_ranks(a, n, pairs, ra);
    gm_ranks(b, n, pairs, rb);
    *rho = gm_rank_correlation(ra, rb, n);
    return GM_OK;
}

gm_status gm_compare_spearman(const float *a, const float *b, size_t n, double *rho) {
    if (!a || !b || n == 0 || !rho) return gm_error(GM_ERR_INVALID_ARG, "spearman: empty or NULL input");
    gm_ranked *pairs = malloc(n * sizeof *pairs);
    double *ra = malloc(n * sizeof *ra), *rb = malloc(n * sizeof *rb);
    gm_status st = pairs && ra && rb ? gm_spearman_scratch(a, b, n, pairs, ra, rb, rho)
                                     : gm_error(GM_ERR_NOMEM, "spearman: out of memory for %zu values", n);
    free(pairs);
    free(ra);
    free(rb);
    return st;
}

static void gm_minmax(const float *x, size_t n, double *lo, double *hi) {
    *lo = *hi = x[0];
    for (size_t i = 1; i < n; ++i) {
        if (x[i] < *lo) *lo = x[i];
        if (x[i] > *hi) *hi = x[i];
    }
}

/* Normalised value of x in a map of range [lo, hi]; a constant map normalises to 0. */
static double gm_unit(float x, double lo, double hi) { return hi > lo ? ((double)x - lo) / (hi - lo) : 0.0; }

gm_status gm_compare_maps(const float *a, const float *ref, size_t count, size_t map_size, gm_map_agreement *out) {
    if (!a || !ref || !out || count == 0 || map_size == 0)
        return gm_error(GM_ERR_INVALID_ARG, "compare maps: empty or NULL input");
    *out = (gm_map_agreement){.finite = 1, .spearman_min = 1.0};
    size_t total = count * map_size;
    for (size_t i = 0; i < total; ++i)
        if (!isfinite(a[i]) || !isfinite(ref[i])) {
            *out = (gm_map_agreement){NAN, NAN, NAN, NAN, 0};
            return GM_OK;
        }
    gm_ranked *pairs = malloc(map_size * sizeof *pairs);
    double *ra = malloc(map_size * sizeof *ra), *rb = malloc(map_size * sizeof *rb);
    gm_status st =
        pairs && ra && rb ? GM_OK : gm_error(GM_ERR_NOMEM, "compare maps: out of memory for %zu values", map_size);
    double rho_sum = 0.0;
    for (size_t m = 0; st == GM_OK && m < count; ++m) {
        const float *x = a + m * map_size, *y = ref + m * map_size;
        double xlo, xhi, ylo, yhi;
        gm_minmax(x, map_size, &xlo, &xhi);
        gm_minmax(y, map_size, &ylo, &yhi);
        for (size_t i = 0; i < map_size; ++i) {
            double raw = fabs((double)x[i] - (double)y[i]);
            double norm = fabs(gm_unit(x[i], xlo, xhi) - gm_unit(y[i], ylo, yhi));
            if (raw > out->max_abs_err) out->max_abs_err = raw;
            if (norm > out->max_abs_err_normalized) out->max_abs_err_normalized = norm;
        }
        double rho = 0.0;
        st = gm_spearman_scratch(x, y, map_size, pairs, ra, rb, &rho);
        if (rho < out->spearman_min) out->spearman_min = rho;
        rho_sum += rho;
    }
    out->spearman_mean = rho_sum / (double)count;
    free(pairs);
    free(ra);
    free(rb);
    return st;
}
