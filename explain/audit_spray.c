/* audit_spray.c — SpRAy (explain/audit_spray.h) steps 1-5: map preparation by exact area averaging,
 * the symmetric kNN graph, its normalised Laplacian, the smallest eigenpairs from LAPACK's dsyevr and
 * the eigengap choice of k. Step 6 (k-means on the embedding) is in audit_kmeans.c. */
#include "audit_spray.h"
#include "audit_spray_internal.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Reference LAPACK (Fortran, 32-bit integers). The three trailing size_t are gfortran's hidden
 * lengths of the CHARACTER arguments JOBZ, RANGE and UPLO; leaving them out is undefined behaviour. */
extern void dsyevr_(const char *jobz, const char *range, const char *uplo, const int *n, double *a,
                    const int *lda, const double *vl, const double *vu, const int *il, const int *iu,
                    const double *abstol, int *m, double *w, double *z, const int *ldz, int *isuppz,
                    double *work, const int *lwork, int *iwork, const int *liwork, int *info, size_t jobz_len,
                    size_t range_len, size_t uplo_len);

/* Distance rows are worth spreading over threads from about this many multiply-adds. Each entry is
 * one fixed sequential sum whichever thread computes it, so the result does not depend on threads. */
#define GM_SPRAY_PARALLEL_MIN_WORK 1000000.0

void gm_spray_config_default(gm_spray_config *c) {
    c->size = 32;
    c->knn = 10;
    c->max_clusters = 8;
    c->n_eigen = 16;
    c->restarts = 10;
    c->seed = 0;
    c->max_images = 2000;
}

/* ---- step 1: area averaging ---- */

/* Overlap of input pixel i and output cell o along one axis of `len` input pixels and `size` output
 * cells, in units of 1/size input pixel: pixel i spans [i*size, (i+1)*size), cell o spans
 * [o*len, (o+1)*len). Integers, so fractional overlaps are exact. */
static long long axis_overlap(int i, int o, int len, int size) {
    long long a0 = (long long)i * size, a1 = a0 + size;
    long long b0 = (long long)o * len, b1 = b0 + len;
    long long lo = a0 > b0 ? a0 : b0, hi = a1 < b1 ? a1 : b1;
    return hi > lo ? hi - lo : 0;
}

/* Mean of the clamped input over output cell (oy, ox): sum v * overlap_y * overlap_x / (h * w), the
 * integral over the footprint (overlaps / size each) divided by its area (h/size * w/size). */
static double cell_mean(const float *map, int h, int w, int size, int oy, int ox) {
    int y0 = (int)((long long)oy * h / size), y1 = (int)(((long long)oy * h + h + size - 1) / size);
    int x0 = (int)((long long)ox * w / size), x1 = (int)(((long long)ox * w + w + size - 1) / size);
    double s = 0.0;
    for (int y = y0; y < y1; ++y) {
        double row = 0.0;
        for (int x = x0; x < x1; ++x) {
            double v = map[(size_t)y * (size_t)w + (size_t)x];
            row += (v > 0.0 ? v : 0.0) * (double)axis_overlap(x, ox, w, size);
        }
        s += row * (double)axis_overlap(y, oy, h, size);
    }
    return s / ((double)h * (double)w);
}

gm_status gm_spray_prepare_map(const float *map, int h, int w, int size, float *out) {
    if (!map || !out) return gm_error(GM_ERR_INVALID_ARG, "spray: null map");
    if (h <= 0 || w <= 0 || size <= 0 || (long long)size * size > INT_MAX ||
        (long long)h * w > INT_MAX)
        return gm_error(GM_ERR_INVALID_ARG, "spray: cannot prepare a %dx%d map at size %d", h, w, size);
    /* A NaN or infinity would turn every cell of the normalised map into NaN: refuse it instead. */
    for (size_t i = 0; i < (size_t)h * (size_t)w; ++i)
        if (!isfinite(map[i])) return gm_error(GM_ERR_INVALID_ARG, "spray: map value %zu is not finite", i);
    size_t d = (size_t)size * (size_t)size;
    double *cells = malloc(d * sizeof *cells);
    if (!cells) return gm_error(GM_ERR_NOMEM, "spray: no memory for a %dx%d map", size, size);
    double sum = 0.0;
    for (int oy = 0; oy < size; ++oy)
        for (int ox = 0; ox < size; ++ox) sum += cells[(size_t)oy * size + ox] = cell_mean(map, h, w, size, oy, ox);
    /* Kept in double until here so that the float map sums to 1 within one rounding per cell. */
    for (size_t i = 0; i < d; ++i) out[i] = sum > 0.0 ? (float)(cells[i] / sum) : 0.0f;
    free(cells);
    return GM_OK;
}

/* ---- step 2: the kNN graph ---- */

/* Full n x n matrix of squared Euclidean distances (same order as the distances), in double. */
static void pairwise_sq_distances(const float *maps, int n, int d, double *dist) {
    double work = 0.5 * (double)n * (double)n * (double)d;
#pragma omp parallel for schedule(dynamic, 4) if (work >= GM_SPRAY_PARALLEL_MIN_WORK)
    for (int i = 0; i < n; ++i) {
        const float *a = maps + (size_t)i * (size_t)d;
        dist[(size_t)i * n + i] = 0.0;
        for (int j = i + 1; j < n; ++j) {
            const float *b = maps + (size_t)j * (size_t)d;
            double s = 0.0;
            for (int t = 0; t < d; ++t) {
                double e = (double)a[t] - (double)b[t];
                s += e * e;
            }
            dist[(size_t)i * n + j] = s;
            dist[(size_t)j * n + i] = s;
        }
    }
}

/* The kk nearest of `self` by (distance, index): j runs upwards and only a strictly smaller distance
 * displaces a kept one, so among equals the lower index wins. nb, nd: kk entries, sorted. */
static void nearest_of(const double *row, int n, int self, int kk, int *nb, double *nd) {
    int count = 0;
    for (int j = 0; j < n; ++j) {
        if (j == self || (count == kk && !(row[j] < nd[kk - 1]))) continue;
        int pos = count < kk ? count++ : kk - 1;
        for (; pos > 0 && row[j] < nd[pos - 1]; --pos) nd[pos] = nd[pos - 1], nb[pos] = nb[pos - 1];
        nd[pos] = row[j];
        nb[pos] = j;
    }
}

/* ---- step 3: L = I - D^-1/2 A D^-1/2 ---- */

/* Overwrites lap (n x n) with the normalised Laplacian of the OR-symmetrised kNN graph (nbr: n x kk).
 * inv_sqrt_deg: n scratch. No self-loops, so L_ii = 1, also for an isolated node (degree 0). */
static void build_laplacian(const int *nbr, int n, int kk, double *lap, double *inv_sqrt_deg) {
    memset(lap, 0, (size_t)n * (size_t)n * sizeof *lap);
    for (int i = 0; i < n; ++i)
        for (int t = 0; t < kk; ++t) {
            int j = nbr[(size_t)i * kk + t];
            lap[(size_t)i * n + j] = lap[(size_t)j * n + i] = 1.0;
        }
    for (int i = 0; i < n; ++i) {
        double deg = 0.0;
        for (int j = 0; j < n; ++j) deg += lap[(size_t)i * n + j];
        inv_sqrt_deg[i] = deg > 0.0 ? 1.0 / sqrt(deg) : 0.0;
    }
    for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j) {
            double *e = &lap[(size_t)i * n + j];
            *e = i == j ? 1.0 : -(*e * inv_sqrt_deg[i]) * inv_sqrt_deg[j];
        }
}

/* Distances, neighbour lists, then the Laplacian in the same n x n buffer (the distances are no
 * longer needed once the lists exist: one n x n buffer instead of two). */
static gm_status graph_laplacian(const float *maps, int n, int d, int knn, double *lap) {
    int kk = knn < n - 1 ? knn : n - 1;
    int *nbr = malloc((size_t)n * (size_t)(kk > 0 ? kk : 1) * sizeof *nbr);
    double *scratch = malloc((size_t)(n > kk ? n : kk) * sizeof *scratch);
    if (!nbr || !scratch) {
        free(nbr);
        free(scratch);
        return gm_error(GM_ERR_NOMEM, "spray: no memory for the %d-nearest-neighbour lists of %d maps", kk, n);
    }
    pairwise_sq_distances(maps, n, d, lap);
    for (int i = 0; kk > 0 && i < n; ++i) nearest_of(lap + (size_t)i * n, n, i, kk, nbr + (size_t)i * kk, scratch);
    build_laplacian(nbr, n, kk, lap, scratch);
    free(nbr);
    free(scratch);
    return GM_OK;
}

/* ---- step 4: the m smallest eigenpairs ---- */

/* dsyevr on lap (destroyed; the lower triangle is read) for eigenpairs 1..m, ascending: values to w
 * (n entries, as LAPACK requires), vectors to z (n x m, column-major). Workspace sizes from LAPACK's
 * own query. */
static gm_status smallest_eigenpairs(double *lap, int n, int m, double *w, double *z) {
    const int il = 1, lwork_query = -1;
    const double none = 0.0, abstol = 0.0; /* abstol 0: LAPACK's default eps * |T| */
    int found = 0, info = 0, liwork = 0, iwork_query = 0;
    double work_query = 0.0;
    int *isuppz = malloc((size_t)2 * (size_t)m * sizeof *isuppz);
    if (!isuppz) return gm_error(GM_ERR_NOMEM, "spray: no memory for dsyevr (n %d)", n);
    dsyevr_("V", "I", "L", &n, lap, &n, &none, &none, &il, &m, &abstol, &found, w, z, &n, isuppz, &work_query,
            &lwork_query, &iwork_query, &lwork_query, &info, 1, 1, 1);
    int lwork = (int)work_query;
    liwork = iwork_query;
    double *work = info == 0 ? malloc((size_t)(lwork > 1 ? lwork : 1) * sizeof *work) : NULL;
    int *iwork = info == 0 ? malloc((size_t)(liwork > 1 ? liwork : 1) * sizeof *iwork) : NULL;
    gm_status st = GM_OK;
    if (info != 0) {
        st = gm_error(GM_ERR_BACKEND, "spray: dsyevr workspace query failed (info %d, n %d)", info, n);
    } else if (!work || !iwork) {
        st = gm_error(GM_ERR_NOMEM, "spray: no memory for dsyevr's workspace (n %d)", n);
    } else {
        dsyevr_("V", "I", "L", &n, lap, &n, &none, &none, &il, &m, &abstol, &found, w, z, &n, isuppz, work, &lwork,
                iwork, &liwork, &info, 1, 1, 1);
        if (info != 0 || found != m)
            st = gm_error(GM_ERR_BACKEND, "spray: dsyevr failed (info %d, %d of %d eigenpairs, n %d)", info, found,
                          m, n);
    }
    free(isuppz);
    free(work);
    free(iwork);
    return st;
}

/* ---- step 5: the eigengap ---- */

/* k = argmax over i = 1..min(max_clusters, m - 1) of lambda_{i+1} - lambda_i (1-based; ties: the
 * smaller i). Needs m >= 2. */
static int eigengap_k(const double *w, int m, int max_clusters, double *gap) {
    int last = max_clusters < m - 1 ? max_clusters : m - 1, k = 1;
    *gap = w[1] - w[0];
    for (int i = 2; i <= last; ++i)
        if (w[i] - w[i - 1] > *gap) *gap = w[i] - w[i - 1], k = i;
    return k;
}

/* ---- step 6 input: rows of the first k eigenvectors, unit length (Ng, Jordan and Weiss) ---- */

static void embed_rows(const double *z, int n, int k, double *emb) {
    for (int i = 0; i < n; ++i) {
        double *r = emb + (size_t)i * k, norm = 0.0;
        for (int c = 0; c < k; ++c) {
            r[c] = z[(size_t)c * n + i];
            norm += r[c] * r[c];
        }
        norm = sqrt(norm);
        for (int c = 0; norm > 0.0 && c < k; ++c) r[c] /= norm; /* a zero row stays zero */
    }
}

/* ---- the whole run ---- */

static gm_status check_run_args(const float *maps, int n, int d, const gm_spray_config *c) {
    if (!maps || !c) return gm_error(GM_ERR_INVALID_ARG, "spray: null maps or config");
    if (n <= 0) return gm_error(GM_ERR_INVALID_ARG, "spray: %d maps (need at least 1)", n);
    if (c->size <= 0 || (long long)c->size * c->size != d)
        return gm_error(GM_ERR_INVALID_ARG, "spray: map length %d is not size %d squared", d, c->size);
    if (c->knn < 1 || c->max_clusters < 1 || c->n_eigen < 1 || c->restarts < 1)
        return gm_error(GM_ERR_INVALID_ARG,
                        "spray: knn %d, max_clusters %d, n_eigen %d, restarts %d (each must be >= 1)", c->knn,
                        c->max_clusters, c->n_eigen, c->restarts);
    for (size_t i = 0; i < (size_t)n * (size_t)d; ++i)
        if (!isfinite(maps[i]))
            return gm_error(GM_ERR_INVALID_ARG, "spray: map %zu holds a non-finite value", i / (size_t)d);
    return GM_OK;
}

/* Buffers of one run beyond the result. */
typedef struct spray_ws {
    double *lap; /* n x n: distances, then the Laplacian (destroyed by dsyevr) */
    double *w;   /* n eigenvalues */
    double *z;   /* n x m eigenvectors */
    double *emb; /* n x k embedding */
} spray_ws;

static void spray_ws_free(spray_ws *s) {
    free(s->lap);
    free(s->w);
    free(s->z);
    free(s->emb);
}

/* Labels from the spectrum: k by the eigengap (k = 1 for n < 3), then k-means when k > 1. */
static gm_status cluster(spray_ws *s, int n, int m, const gm_spray_config *c, gm_spray_result *out) {
    out->k = 1;
    out->eigengap = 0.0;
    if (n >= 3) out->k = eigengap_k(s->w, m, c->max_clusters, &out->eigengap);
    if (out->k == 1) return GM_OK; /* labels are already all 0 */
    s->emb = malloc((size_t)n * (size_t)out->k * sizeof *s->emb);
    if (!s->emb) return gm_error(GM_ERR_NOMEM, "spray: no memory for the %d x %d embedding", n, out->k);
    embed_rows(s->z, n, out->k, s->emb);
    return gm_spray_kmeans(s->emb, n, out->k, out->k, c->restarts, c->seed, out->labels);
}

gm_status gm_spray_run(const float *maps, int n, int d, const gm_spray_config *c, gm_spray_result *out) {
    if (!out) return gm_error(GM_ERR_INVALID_ARG, "spray: null result");
    memset(out, 0, sizeof *out);
    GM_TRY(check_run_args(maps, n, d, c));
    int n_report = c->n_eigen < n ? c->n_eigen : n;
    int n_gap = c->max_clusters + 1 < n ? c->max_clusters + 1 : n; /* the eigengap needs max_clusters + 1 */
    int m = n_report > n_gap ? n_report : n_gap;
    spray_ws s = {NULL, NULL, NULL, NULL};
    s.lap = malloc((size_t)n * (size_t)n * sizeof *s.lap);
    s.w = malloc((size_t)n * sizeof *s.w);
    s.z = malloc((size_t)n * (size_t)m * sizeof *s.z);
    out->eigenvalues = malloc((size_t)n_report * sizeof *out->eigenvalues);
    out->labels = calloc((size_t)n, sizeof *out->labels);
    gm_status st = GM_OK;
    if (!s.lap || !s.w || !s.z || !out->eigenvalues || !out->labels)
        st = gm_error(GM_ERR_NOMEM, "spray: no memory for %d maps (%d eigenpairs)", n, m);
    if (st == GM_OK) st = graph_laplacian(maps, n, d, c->knn, s.lap);
    if (st == GM_OK) st = smallest_eigenpairs(s.lap, n, m, s.w, s.z);
    if (st == GM_OK) {
        /* Roundoff can put lambda_1 at -1e-17 or the top just over 2; the spectrum lies in [0, 2]. */
        for (int i = 0; i < m; ++i) s.w[i] = s.w[i] < 0.0 ? 0.0 : s.w[i] > 2.0 ? 2.0 : s.w[i];
        memcpy(out->eigenvalues, s.w, (size_t)n_report * sizeof *s.w);
        out->n = n;
        out->n_eigen = n_report;
        st = cluster(&s, n, m, c, out);
    }
    spray_ws_free(&s);
    if (st != GM_OK) gm_spray_result_free(out);
    return st;
}

void gm_spray_result_free(gm_spray_result *r) {
    if (!r) return;
    free(r->eigenvalues);
    free(r->labels);
    memset(r, 0, sizeof *r);
}
