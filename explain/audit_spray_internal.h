/* audit_spray_internal.h — what explain/audit_spray.c (maps, graph, eigenpairs, eigengap) needs from
 * explain/audit_kmeans.c (the seeded k-means on the spectral embedding). Private to those two files. */
#ifndef GM_AUDIT_SPRAY_INTERNAL_H
#define GM_AUDIT_SPRAY_INTERNAL_H

#include <stdint.h>

#include "host/status.h"

/* k-means on the n rows of x (n x dim doubles, row-major; the caller has already scaled each row to
 * unit length): k-means++ seeding from a splitmix64 stream seeded with `seed`, `restarts` runs of
 * Lloyd's iterations (until no label changes, at most 300), the lowest inertia kept (ties: the earlier
 * run). Labels written to `labels` (n) are renumbered so that 0 is the largest cluster (ties: the
 * cluster whose first member comes first). Needs 1 <= k <= n and restarts >= 1. GM_ERR_NOMEM on
 * allocation failure. Single-threaded, so the result depends on the inputs and the seed only. */
gm_status gm_spray_kmeans(const double *x, int n, int dim, int k, int restarts, uint64_t seed, int *labels);

#endif
