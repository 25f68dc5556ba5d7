/* post.c — per-map normalisation (explain/post.h) and the name <-> enum tables of the post-processing
 * options (normalisation, bilinear style, colormap). Maps are float32, n values each, normalised in
 * place; the per-element arithmetic is kernels/post_math.h.
 *
 * Each map needs its finite min and max first. NaN and +-Inf are left out of that reduction, so one
 * bad value cannot turn a whole map into NaN; the element functions then send NaN to 0 and clamp
 * +-Inf into [min, max]. */
#include "post.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "kernels/post_math.h"

/* Maps handed to one thread each when a batch is at least this many values: below it, starting the
 * OpenMP team costs more than the work. */
#define GM_POST_PARALLEL_MIN_VALUES 65536

typedef struct finite_range {
    float lo, hi;
    bool any; /* at least one finite value */
} finite_range;

static finite_range finite_range_of(const float *x, size_t n) {
    finite_range r = {0.0f, 0.0f, false};
    for (size_t i = 0; i < n; ++i) {
        float v = x[i];
        if (!isfinite(v)) continue;
        if (!r.any) {
            r.lo = r.hi = v;
            r.any = true;
        } else if (v < r.lo) {
            r.lo = v;
        } else if (v > r.hi) {
            r.hi = v;
        }
    }
    return r;
}

static void zero_map(float *x, size_t n) {
    for (size_t i = 0; i < n; ++i)
        x[i] = 0.0f;
}

void gm_post_relu(float *x, size_t n) {
    if (!x) return;
    for (size_t i = 0; i < n; ++i)
        x[i] = gm_post_relu_value(x[i]);
}

/* Normalises one map whose arguments were already checked. */
static void normalize_one(float *x, size_t n, gm_post_norm mode) {
    if (mode == GM_NORM_NONE || n == 0) return;
    finite_range r = finite_range_of(x, n);
    if (!r.any) { /* all NaN / Inf: nothing to scale by */
        zero_map(x, n);
        return;
    }
    float lo = r.lo, hi = r.hi;
    switch (mode) {
    case GM_NORM_MINMAX: {
        float range = hi - lo;
        if (!(range > 0.0f)) { /* constant map (the seed would divide 0 by 0) */
            zero_map(x, n);
        } else if (isinf(range)) {
            for (size_t i = 0; i < n; ++i)
                x[i] = gm_post_minmax_value_wide(x[i], lo, hi);
        } else {
            for (size_t i = 0; i < n; ++i)
                x[i] = gm_post_minmax_value(x[i], lo, hi, range);
        }
        break;
    }
    case GM_NORM_RELU_MAX:
        if (!(hi > 0.0f)) { /* no positive evidence: an all-zero map, not NaN or -0/-x */
            zero_map(x, n);
        } else {
            for (size_t i = 0; i < n; ++i)
                x[i] = gm_post_relu_max_value(x[i], lo, hi);
        }
        break;
    case GM_NORM_PGC: {
        /* A constant map gives 0 / 1e-7 = 0 on its own; only an overflowing range needs care. */
        if (isinf(hi - lo)) {
            for (size_t i = 0; i < n; ++i)
                x[i] = gm_post_minmax_value_wide(x[i], lo, hi);
        } else {
            float denom = gm_post_pgc_denominator(lo, hi);
            for (size_t i = 0; i < n; ++i)
                x[i] = gm_post_pgc_value(x[i], lo, hi, denom);
        }
        break;
    }
    default: break;
    }
}

static bool norm_known(gm_post_norm mode) {
    return mode == GM_NORM_NONE || mode == GM_NORM_MINMAX || mode == GM_NORM_RELU_MAX || mode == GM_NORM_PGC;
}

gm_status gm_post_normalize(float *map, size_t n, gm_post_norm mode) {
    return gm_post_normalize_batch(map, 1, n, mode);
}

gm_status gm_post_normalize_batch(float *maps, size_t count, size_t map_size, gm_post_norm mode) {
    if (!norm_known(mode)) return gm_error(GM_ERR_INVALID_ARG, "normalize: unknown mode %d", (int)mode);
    if (count == 0 || map_size == 0) return GM_OK;
    if (!maps) return gm_error(GM_ERR_INVALID_ARG, "normalize: null map");
    if (count > (size_t)-1 / map_size)
        return gm_error(GM_ERR_INVALID_ARG, "normalize: %zu maps of %zu values overflow", count, map_size);
    if (count > (size_t)0x7fffffff) return gm_error(GM_ERR_INVALID_ARG, "normalize: too many maps (%zu)", count);
    int nmaps = (int)count;
#pragma omp parallel for schedule(static) if (count > 1 && count * map_size >= GM_POST_PARALLEL_MIN_VALUES)
    for (int m = 0; m < nmaps; ++m)
        normalize_one(maps + (size_t)m * map_size, map_size, mode);
    return GM_OK;
}

/* ---- names ---- */

typedef struct name_entry {
    const char *name;
    int value;
} name_entry;

static const name_entry k_norm_names[] = {
    {"none", GM_NORM_NONE}, {"minmax", GM_NORM_MINMAX}, {"relu-max", GM_NORM_RELU_MAX}, {"pgc", GM_NORM_PGC}};
static const name_entry k_bilinear_names[] = {{"cv2", GM_BILINEAR_CV2}, {"tf", GM_BILINEAR_TF}};
static const name_entry k_colormap_names[] = {{"jet", GM_COLORMAP_JET},
                                              {"hot", GM_COLORMAP_HOT},
                                              {"inferno", GM_COLORMAP_INFERNO},
                                              {"viridis", GM_COLORMAP_VIRIDIS},
                                              {"gray", GM_COLORMAP_GRAY}};

#define GM_COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *name_of(const name_entry *table, size_t n, int value) {
    for (size_t i = 0; i < n; ++i)
        if (table[i].value == value) return table[i].name;
    return "unknown";
}

/* Looks `text` up; on failure the message lists the accepted names. */
static gm_status parse_name(const name_entry *table, size_t n, const char *what, const char *text, int *out) {
    if (!text || !out) return gm_error(GM_ERR_INVALID_ARG, "%s: null argument", what);
    for (size_t i = 0; i < n; ++i) {
        if (strcmp(table[i].name, text) == 0) {
            *out = table[i].value;
            return GM_OK;
        }
    }
    char list[128] = "";
    for (size_t i = 0; i < n; ++i) {
        if (i) strncat(list, "|", sizeof list - strlen(list) - 1);
        strncat(list, table[i].name, sizeof list - strlen(list) - 1);
    }
    return gm_error(GM_ERR_INVALID_ARG, "unknown %s '%s' (expected %s)", what, text, list);
}

const char *gm_post_norm_name(gm_post_norm mode) {
    return name_of(k_norm_names, GM_COUNT(k_norm_names), (int)mode);
}

gm_status gm_post_norm_parse(const char *text, gm_post_norm *out) {
    int v = 0;
    GM_TRY(parse_name(k_norm_names, GM_COUNT(k_norm_names), "normalisation", text, &v));
    *out = (gm_post_norm)v;
    return GM_OK;
}

const char *gm_post_bilinear_name(gm_post_bilinear style) {
    return name_of(k_bilinear_names, GM_COUNT(k_bilinear_names), (int)style);
}

gm_status gm_post_bilinear_parse(const char *text, gm_post_bilinear *out) {
    int v = 0;
    GM_TRY(parse_name(k_bilinear_names, GM_COUNT(k_bilinear_names), "resize style", text, &v));
    *out = (gm_post_bilinear)v;
    return GM_OK;
}

const char *gm_post_colormap_name(gm_colormap cmap) {
    return name_of(k_colormap_names, GM_COUNT(k_colormap_names), (int)cmap);
}

gm_status gm_post_colormap_parse(const char *text, gm_colormap *out) {
    int v = 0;
    GM_TRY(parse_name(k_colormap_names, GM_COUNT(k_colormap_names), "colormap", text, &v));
    *out = (gm_colormap)v;
    return GM_OK;
}
