/* compare.h — how far two sets of explanation maps agree: a GPU or reduced-precision run against
 * the CPU fp32 reference (`gradmap bench` checks every case this way before timing it).
 *
 * Maps are float32, `count` maps of `map_size` values back to back (any map layout: only values at
 * the same position are paired). Three figures, each taken over every map of the set:
 *   max_abs_err             max |a - ref|, raw values (depends on the map's scale);
 *   max_abs_err_normalized  max |a' - ref'| after min-max normalising every map of a and of ref to
 *                           [0, 1] on its own (scale-free; a constant map normalises to all zero);
 *   spearman_min / _mean    Spearman rank correlation per map pair (ties take their average rank),
 *                           the lowest and the mean over the maps. Two constant maps correlate 1,
 *                           a constant map with a varying one 0.
 * A NaN or infinity in either set makes `finite` 0 and every figure NaN. */
#ifndef GM_COMPARE_H
#define GM_COMPARE_H

#include <stddef.h>

#include "host/status.h"

typedef struct gm_map_agreement {
    double max_abs_err;
    double max_abs_err_normalized;
    double spearman_min, spearman_mean;
    int finite;
} gm_map_agreement;

/* GM_ERR_INVALID_ARG for NULL maps or an empty set; GM_ERR_NOMEM when scratch cannot be had. */
gm_status gm_compare_maps(const float *a, const float *ref, size_t count, size_t map_size, gm_map_agreement *out);

/* Spearman rank correlation of two vectors of n values (finite), in [-1, 1]. */
gm_status gm_compare_spearman(const float *a, const float *b, size_t n, double *rho);

#endif
