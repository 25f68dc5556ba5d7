/* audit_spray.h — SpRAy, spectral relevance analysis (Lapuschkin et al. 2019; reference/methods.md
 * §4): the explanation maps of one class, downsampled and normalised, are clustered spectrally so
 * that groups of images the model explains the same way (e.g. "looks at the watermark") show up.
 *
 * Procedure (every step deterministic for a given seed):
 *  1. each map is area-averaged to size x size (model-input aligned) and divided by its sum (a mass
 *     distribution; an all-zero map stays zero);
 *  2. Euclidean distances; a symmetric k-nearest-neighbour graph with binary weights: i ~ j when j is
 *     among i's knn nearest or i among j's (ties: the lower index first);
 *  3. the symmetric normalised Laplacian L = I - D^-1/2 A D^-1/2 (an isolated node has L_ii = 1);
 *  4. its smallest eigenpairs from LAPACK (dsyevr), ascending;
 *  5. the cluster count k = the i in 1..min(max_clusters, eigenvalues computed - 1) maximising the
 *     eigengap lambda_{i+1} - lambda_i (ties: the smaller i); k = 1 means no structure. The eigengap
 *     alone can split a group whose maps vary smoothly along a few directions (positions jittered
 *     by several pixels): clusters are evidence to inspect, which is why a class is flagged only
 *     when a sizeable cluster is also off the object (explain/audit.h);
 *  6. k-means (k-means++ seeding, `restarts` runs, the lowest inertia kept) on the rows of the first
 *     k eigenvectors, each row scaled to unit length (Ng, Jordan and Weiss). Labels are then renumbered
 *     by decreasing cluster size (ties: the cluster whose first member comes first), so cluster 0
 *     is the largest. */
#ifndef GM_AUDIT_SPRAY_H
#define GM_AUDIT_SPRAY_H

#include <stdint.h>

#include "host/status.h"

typedef struct gm_spray_config {
    int size;         /* maps are downsampled to size x size (default 32) */
    int knn;          /* neighbours (default 10; min(knn, n - 1) is used) */
    int max_clusters; /* largest k the eigengap may pick (default 8; at most n - 1) */
    int n_eigen;      /* eigenvalues computed and reported (default 16; at most n) */
    int restarts;     /* k-means runs (default 10) */
    uint64_t seed;    /* k-means++ seed (default 0) */
    int max_images;   /* the audit clusters at most this many maps of a class (default 2000; the
                         graph grows as n^2 and the eigenproblem as n^3): beyond it an evenly spaced
                         subset is clustered and the other maps join the cluster whose mean is
                         nearest (explain/audit_summary.c). gm_spray_run itself ignores it. */
} gm_spray_config;

void gm_spray_config_default(gm_spray_config *c);

/* Step 1 for one map (h x w, values >= 0): area-average (each output pixel the mean of the input
 * area it covers, fractional overlaps weighted) to size x size into out, then divide by the sum.
 * GM_ERR_INVALID_ARG on bad sizes. */
gm_status gm_spray_prepare_map(const float *map, int h, int w, int size, float *out);

typedef struct gm_spray_result {
    int n;              /* maps clustered */
    int k;              /* clusters (1 when n < 3: too few to cluster) */
    int n_eigen;        /* eigenvalues reported */
    double *eigenvalues;/* n_eigen, ascending, in [0, 2] */
    double eigengap;    /* lambda_{k+1} - lambda_k (0 when k = 1 and n < 3) */
    int *labels;        /* n labels in 0..k-1, 0 = the largest cluster */
} gm_spray_result;

/* Clusters n prepared maps (n x d floats, d = size * size, from gm_spray_prepare_map). n >= 1; for
 * n < 3 every map is in cluster 0 (the eigenvalues are still reported: {1} for n = 1, {0, 2} for
 * n = 2). Errors: GM_ERR_INVALID_ARG (d != size^2, n <= 0, null pointers, a config field < 1, a
 * non-finite value), GM_ERR_NOMEM, GM_ERR_BACKEND (LAPACK failure); the result is then zeroed, so
 * gm_spray_result_free is always safe. Results do not depend on the thread count (with Debian's
 * reference LAPACK; a threaded BLAS swapped in could change the eigenvectors' last bits). */
gm_status gm_spray_run(const float *maps, int n, int d, const gm_spray_config *c, gm_spray_result *out);
void gm_spray_result_free(gm_spray_result *r);

/* Adjusted Rand index of two labelings of n items (Hubert and Arabie): 1 identical up to renaming,
 * about 0 for independent ones. Labels are >= 0. Returns 1 when the denominator is 0 (then the two
 * partitions are identical), NaN on a null pointer or when out of memory. */
double gm_spray_adjusted_rand(const int *a, const int *b, int n);

#endif
