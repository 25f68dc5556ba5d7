/* audit_write_h5.c — DIR/audit.h5 of `gradmap audit` (audit_output.h): the whole audit, per image,
 * per class and per SpRAy cluster. This comment is the file format's contract.
 *
 * Conventions. n = images, C = dataset classes, R = user regions, H x W = the audit map size
 * (map_h x map_w: model-input aligned, see explain/audit.h), K = (class, cluster) rows. Integers
 * are little-endian int32 / int8, reals float64 unless said, strings variable-length UTF-8. "Undefined"
 * reals are NaN, undefined integers -1. Every per-explanation value of an image that was not
 * explained (status 0) is undefined. Datasets with R columns (regions, region_mean, region_sd) are
 * OMITTED when R = 0. Map datasets are chunked one map per chunk, gzip level 4, their first
 * dimension extendible; with zero rows they exist with shape (0, H, W). Every other dataset is
 * contiguous and may have a zero-sized dimension (e.g. every /images dataset when n = 0, eigenvalues (C, 0)).
 *
 * / (root) attributes
 *   format "gradmap-audit", format_version (int64, 1), gradmap_version, model, data, method,
 *   target_layer, target_mode, device, command_line (strings, "" when unknown);
 *   seed (uint64); pointing_tolerance_px, border_fraction, baseline_inside (float64; NaN without
 *   objects); n_images, n_classes, n_regions, n_flagged, map_h, map_w, has_objects (int64);
 *   spray_size, spray_knn, spray_max_clusters, spray_n_eigen, spray_restarts, spray_max_images (int64), spray_seed (uint64).
 * / datasets
 *   regions (R strings: the region names), region_rects (R x 4: x0, y0, x1, y1 as written),
 *   region_percent (R x 4 int8: 1 where that coordinate is a percentage).
 * /images (n rows, in the listed order)
 *   path, error ("" when none), note ("" when none): strings
 *   label (int32: index into /classes), status (int8: 1 explained, 0 error), has_object (int8),
 *   width, height (int32: original size, 0 when unreadable),
 *   predicted, target (int32 model classes), correct (int32 0/1), probability (float32 of predicted),
 *   mass, inside, point_distance, object_area, border (float64),
 *   pointing (int8: 1 hit, 0 miss, -1 undefined), max_xy (n x 2 int32: x, y of the map's maximum),
 *   regions (n x R: share of the mass in each region), cluster (int32: SpRAy cluster within its class),
 *   map (n x H x W float32: the audit maps; zeros for unexplained images).
 * /classes (C rows, in the dataset's order: the class indices /images/label refers to)
 *   name, reason ("" when nothing), error ("" when none): strings
 *   model_class (int32, -1 when not a class of the model), n_images, n_explained, n_correct (int32),
 *   spray_k (int32: SpRAy's cluster count, 0 when nothing was explained), flagged (int32 0/1),
 *   accuracy, inside_mean, inside_sd, pointing_rate, border_mean, border_sd, outside_share,
 *   eigengap (NaN when nothing was explained), suspicion (float64),
 *   region_mean, region_sd (C x R), mean_map (C x H x W float32, NaN-filled for a class without one),
 *   eigenvalues (C x E float64, E = the largest n_eigen, ascending, NaN-padded), n_eigen (int32),
 *   order (C int32: class indices by decreasing suspicion, the order of classes.csv).
 * /clusters (K rows: every class's clusters, class then cluster order)
 *   class (int32 index into /classes), cluster (int32, 0 = the class's largest), size (int32),
 *   accuracy, pointing_rate, inside_mean, border_mean (float64), region_mean (K x R),
 *   qualifies, off_object (int8 0/1), mean_map (K x H x W float32, NaN-filled when missing).
 *   The members are not stored: they are the images with /images/label == class and
 *   /images/cluster == cluster (the group's attribute `note` says so).
 *
 * The file is built in memory (HDF5's core driver), written as DIR/.audit.h5.tmp (a gm_safe_file)
 * and renamed to DIR/audit.h5 only when every write and the close succeeded; on failure the
 * temporary file is removed. Memory: about the compressed maps once more, on top of the audit. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <hdf5.h>

#include "audit_output.h"
#include "cli.h"
#include "safe_file.h"

#define GM_AUDIT_FORMAT "gradmap-audit"
#define GM_AUDIT_FORMAT_VERSION 1
#define GM_AUDIT_GZIP_LEVEL 4

typedef struct h5w {
    hid_t str;        /* variable-length UTF-8 string type */
    int failed;       /* an HDF5 call failed */
    int nomem;        /* an allocation failed */
    char what[160];   /* the first object that could not be written */
} h5w;

static int h5w_ok(const h5w *w) { return !w->failed && !w->nomem; }

static void h5w_fail(h5w *w, const char *group, const char *name) {
    if (!w->failed && !w->nomem) snprintf(w->what, sizeof w->what, "%s/%s", group, name);
    w->failed = 1;
}

static void *h5w_alloc(h5w *w, size_t count, size_t elem) {
    void *p = malloc((count ? count : 1) * elem);
    if (!p) w->nomem = 1;
    return p;
}

static hid_t vlen_string_type(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0) return -1;
    if (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

/* ---- attributes ---- */

static void attr_write(h5w *w, hid_t obj, const char *name, hid_t file_type, hid_t mem_type, const void *value) {
    if (!h5w_ok(w)) return;
    hid_t s = H5Screate(H5S_SCALAR), at = -1;
    int ok = s >= 0 && (at = H5Acreate2(obj, name, file_type, s, H5P_DEFAULT, H5P_DEFAULT)) >= 0 &&
             H5Awrite(at, mem_type, value) >= 0;
    if (at >= 0 && H5Aclose(at) < 0) ok = 0;
    if (s >= 0) H5Sclose(s);
    if (!ok) h5w_fail(w, "attribute", name);
}

static void attr_str(h5w *w, hid_t obj, const char *name, const char *value) {
    const char *v = value ? value : "";
    attr_write(w, obj, name, w->str, w->str, &v);
}

static void attr_i64(h5w *w, hid_t obj, const char *name, long long value) {
    int64_t v = value;
    attr_write(w, obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v);
}

static void attr_u64(h5w *w, hid_t obj, const char *name, uint64_t value) {
    attr_write(w, obj, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, &value);
}

static void attr_f64(h5w *w, hid_t obj, const char *name, double value) {
    attr_write(w, obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}

/* ---- datasets ---- */

/* Creates loc/name with shape dims and writes `data` (mem_type, row-major) unless it is empty.
 * map != 0: chunked one row per chunk, gzip, first dimension extendible (so zero rows work too). */
static void dset(h5w *w, hid_t loc, const char *group, const char *name, hid_t file_type, hid_t mem_type, int rank,
                 const hsize_t *dims, const void *data, int map) {
    if (!h5w_ok(w)) return;
    hsize_t total = 1, row = 1, maxdims[4], chunk[4];
    for (int i = 0; i < rank; ++i) {
        total *= dims[i];
        if (i) row *= dims[i];
        maxdims[i] = dims[i];
        chunk[i] = dims[i];
    }
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE), space = -1, d = -1;
    int ok = dcpl >= 0;
    if (ok && map && row > 0) {
        maxdims[0] = H5S_UNLIMITED;
        chunk[0] = 1;
        ok = H5Pset_chunk(dcpl, rank, chunk) >= 0;
        if (ok && H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0) ok = H5Pset_deflate(dcpl, GM_AUDIT_GZIP_LEVEL) >= 0;
    }
    ok = ok && (space = H5Screate_simple(rank, dims, maxdims)) >= 0 &&
         (d = H5Dcreate2(loc, name, file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT)) >= 0;
    if (ok && total > 0) ok = H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0;
    if (d >= 0 && H5Dclose(d) < 0) ok = 0;
    if (space >= 0) H5Sclose(space);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (!ok) h5w_fail(w, group, name);
}

static void col_i32(h5w *w, hid_t loc, const char *group, const char *name, const int32_t *v, int n) {
    hsize_t dims[1] = {(hsize_t)n};
    dset(w, loc, group, name, H5T_STD_I32LE, H5T_NATIVE_INT32, 1, dims, v, 0);
}

static void col_i8(h5w *w, hid_t loc, const char *group, const char *name, const int8_t *v, int n) {
    hsize_t dims[1] = {(hsize_t)n};
    dset(w, loc, group, name, H5T_STD_I8LE, H5T_NATIVE_INT8, 1, dims, v, 0);
}

static void col_f64(h5w *w, hid_t loc, const char *group, const char *name, const double *v, int n) {
    hsize_t dims[1] = {(hsize_t)n};
    dset(w, loc, group, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dims, v, 0);
}

static void col_str(h5w *w, hid_t loc, const char *group, const char *name, const char **v, int n) {
    hsize_t dims[1] = {(hsize_t)n};
    dset(w, loc, group, name, w->str, w->str, 1, dims, v, 0);
}

/* n x cols float64 (regions of images, classes, clusters); skipped when cols == 0. */
static void mat_f64(h5w *w, hid_t loc, const char *group, const char *name, const double *v, int n, int cols) {
    if (cols <= 0) return;
    hsize_t dims[2] = {(hsize_t)n, (hsize_t)cols};
    dset(w, loc, group, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dims, v, 0);
}

static void maps_f32(h5w *w, hid_t loc, const char *group, const char *name, const float *v, int n, int h,
                     int wd) {
    hsize_t dims[3] = {(hsize_t)n, (hsize_t)h, (hsize_t)wd};
    dset(w, loc, group, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, dims, v, 1);
}

static hid_t group_open(h5w *w, hid_t file, const char *name) {
    if (!h5w_ok(w)) return -1;
    hid_t g = H5Gcreate2(file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) h5w_fail(w, "", name);
    return g;
}

static void group_close(h5w *w, hid_t g, const char *name) {
    if (g >= 0 && H5Gclose(g) < 0) h5w_fail(w, "", name);
}

/* ---- the three parts ---- */

static void write_root(h5w *w, hid_t f, const gm_audit *a) {
    attr_str(w, f, "format", GM_AUDIT_FORMAT);
    attr_i64(w, f, "format_version", GM_AUDIT_FORMAT_VERSION);
#ifdef GM_VERSION
    attr_str(w, f, "gradmap_version", GM_VERSION);
#else
    attr_str(w, f, "gradmap_version", "unknown");
#endif
    attr_str(w, f, "model", a->model_path);
    attr_str(w, f, "data", a->data_path);
    attr_str(w, f, "method", a->method);
    attr_str(w, f, "target_layer", a->target_layer);
    attr_str(w, f, "target_mode", a->target_mode);
    attr_str(w, f, "device", a->device);
    attr_str(w, f, "command_line", a->command_line);
    attr_u64(w, f, "seed", a->seed);
    attr_f64(w, f, "pointing_tolerance_px", a->metric_options.pointing_tolerance_px);
    attr_f64(w, f, "border_fraction", a->metric_options.border_fraction);
    attr_f64(w, f, "baseline_inside", a->baseline_inside);
    attr_i64(w, f, "n_images", a->n_images);
    attr_i64(w, f, "n_classes", a->n_classes);
    attr_i64(w, f, "n_regions", a->n_regions);
    attr_i64(w, f, "n_flagged", a->n_flagged);
    attr_i64(w, f, "map_h", a->map_h);
    attr_i64(w, f, "map_w", a->map_w);
    attr_i64(w, f, "has_objects", a->has_objects ? 1 : 0);
    attr_i64(w, f, "spray_size", a->spray_config.size);
    attr_i64(w, f, "spray_knn", a->spray_config.knn);
    attr_i64(w, f, "spray_max_clusters", a->spray_config.max_clusters);
    attr_i64(w, f, "spray_n_eigen", a->spray_config.n_eigen);
    attr_i64(w, f, "spray_restarts", a->spray_config.restarts);
    attr_i64(w, f, "spray_max_images", a->spray_config.max_images);
    attr_u64(w, f, "spray_seed", a->spray_config.seed);

    int nr = a->n_regions;
    const char *names[GM_AUDIT_MAX_REGIONS];
    double rects[GM_AUDIT_MAX_REGIONS * 4];
    int8_t percent[GM_AUDIT_MAX_REGIONS * 4];
    for (int r = 0; r < nr; ++r) {
        names[r] = a->regions[r].name;
        for (int k = 0; k < 4; ++k) {
            rects[r * 4 + k] = a->regions[r].v[k];
            percent[r * 4 + k] = a->regions[r].percent[k] ? 1 : 0;
        }
    }
    hsize_t dims[2] = {(hsize_t)nr, 4};
    col_str(w, f, "", "regions", names, nr);
    dset(w, f, "", "region_rects", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dims, rects, 0);
    dset(w, f, "", "region_percent", H5T_STD_I8LE, H5T_NATIVE_INT8, 2, dims, percent, 0);
}

/* The per-image metric a column holds (index into the switch below). */
enum { IM_MASS, IM_INSIDE, IM_POINT_DISTANCE, IM_OBJECT_AREA, IM_BORDER };

static double image_metric(const gm_audit_image *im, int which) {
    if (!im->ok) return NAN;
    switch (which) {
    case IM_MASS: return im->m.mass;
    case IM_INSIDE: return im->m.inside;
    case IM_POINT_DISTANCE: return im->m.point_distance;
    case IM_OBJECT_AREA: return im->m.object_area;
    default: return im->m.border;
    }
}

static void write_images(h5w *w, hid_t f, const gm_audit *a) {
    const char *G = "/images";
    int n = a->n_images, nr = a->n_regions;
    hid_t g = group_open(w, f, "images");
    const char **s = h5w_alloc(w, (size_t)n, sizeof *s);
    int32_t *i32 = h5w_alloc(w, (size_t)n * 2, sizeof *i32);
    int8_t *i8 = h5w_alloc(w, (size_t)n, sizeof *i8);
    float *f32 = h5w_alloc(w, (size_t)n, sizeof *f32);
    double *f64 = h5w_alloc(w, (size_t)n * (size_t)(nr ? nr : 1), sizeof *f64);
    if (h5w_ok(w)) {
        const gm_audit_image *im = a->images;
#define GM_STR_COL(name, expr)                                            \
    for (int i = 0; i < n; ++i) s[i] = (expr) ? (expr) : "";              \
    col_str(w, g, G, name, s, n)
#define GM_I32_COL(name, expr)                                            \
    for (int i = 0; i < n; ++i) i32[i] = (int32_t)(expr);                 \
    col_i32(w, g, G, name, i32, n)
#define GM_I8_COL(name, expr)                                             \
    for (int i = 0; i < n; ++i) i8[i] = (int8_t)(expr);                   \
    col_i8(w, g, G, name, i8, n)
        GM_STR_COL("path", im[i].path);
        GM_STR_COL("error", im[i].error);
        GM_STR_COL("note", im[i].note);
        GM_I32_COL("label", im[i].cls);
        GM_I8_COL("status", im[i].ok ? 1 : 0);
        GM_I8_COL("has_object", im[i].has_object ? 1 : 0);
        GM_I32_COL("width", im[i].width);
        GM_I32_COL("height", im[i].height);
        GM_I32_COL("predicted", im[i].ok && im[i].predicted >= 0 ? im[i].predicted : -1);
        GM_I32_COL("target", im[i].ok && im[i].target >= 0 ? im[i].target : -1);
        GM_I32_COL("correct", im[i].ok ? (im[i].correct ? 1 : 0) : -1);
        GM_I32_COL("cluster", im[i].ok && im[i].cluster >= 0 ? im[i].cluster : -1);
        GM_I8_COL("pointing", im[i].ok && im[i].m.pointing >= 0 ? (im[i].m.pointing ? 1 : 0) : -1);
#undef GM_STR_COL
#undef GM_I32_COL
#undef GM_I8_COL
        for (int i = 0; i < n; ++i) f32[i] = im[i].ok ? im[i].probability : NAN;
        hsize_t d1[1] = {(hsize_t)n};
        dset(w, g, G, "probability", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, d1, f32, 0);
        static const char *const metric_names[] = {"mass", "inside", "point_distance", "object_area", "border"};
        for (int k = IM_MASS; k <= IM_BORDER; ++k) {
            for (int i = 0; i < n; ++i) f64[i] = image_metric(&im[i], k);
            col_f64(w, g, G, metric_names[k], f64, n);
        }
        for (int i = 0; i < n; ++i) {
            int defined = im[i].ok && im[i].m.max_x >= 0 && im[i].m.max_y >= 0;
            i32[2 * i] = defined ? im[i].m.max_x : -1;
            i32[2 * i + 1] = defined ? im[i].m.max_y : -1;
        }
        hsize_t d2[2] = {(hsize_t)n, 2};
        dset(w, g, G, "max_xy", H5T_STD_I32LE, H5T_NATIVE_INT32, 2, d2, i32, 0);
        for (int i = 0; i < n; ++i)
            for (int r = 0; r < nr; ++r) f64[(size_t)i * nr + r] = im[i].ok ? im[i].m.regions[r] : NAN;
        mat_f64(w, g, G, "regions", f64, n, nr);
        maps_f32(w, g, G, "map", a->maps, n, a->map_h, a->map_w);
    }
    free(s);
    free(i32);
    free(i8);
    free(f32);
    free(f64);
    group_close(w, g, "images");
}

/* A float64 column over classes or clusters from an accessor index (keeps write_classes short). */
enum { CL_ACCURACY, CL_INSIDE_MEAN, CL_INSIDE_SD, CL_POINTING, CL_BORDER_MEAN, CL_BORDER_SD, CL_OUTSIDE,
       CL_EIGENGAP, CL_SUSPICION, CL_N };

static double class_value(const gm_audit_class *c, int which) {
    switch (which) {
    case CL_ACCURACY: return c->accuracy;
    case CL_INSIDE_MEAN: return c->inside.mean;
    case CL_INSIDE_SD: return c->inside.sd;
    case CL_POINTING: return c->pointing.mean;
    case CL_BORDER_MEAN: return c->border.mean;
    case CL_BORDER_SD: return c->border.sd;
    case CL_OUTSIDE: return c->outside_share;
    case CL_EIGENGAP: return c->spray.n > 0 ? c->spray.eigengap : NAN;
    default: return c->suspicion;
    }
}

/* A mean map, or NaN where a class or cluster has none. */
static void copy_map_or_nan(float *dst, const float *map, size_t hw) {
    if (map) memcpy(dst, map, hw * sizeof *dst);
    else
        for (size_t p = 0; p < hw; ++p) dst[p] = NAN;
}

static void write_classes(h5w *w, hid_t f, const gm_audit *a) {
    const char *G = "/classes";
    int n = a->n_classes, nr = a->n_regions, max_eig = 0;
    size_t hw = (size_t)a->map_h * (size_t)a->map_w;
    for (int c = 0; c < n; ++c)
        if (a->classes[c].spray.eigenvalues && a->classes[c].spray.n_eigen > max_eig)
            max_eig = a->classes[c].spray.n_eigen;
    hid_t g = group_open(w, f, "classes");
    const char **s = h5w_alloc(w, (size_t)n, sizeof *s);
    int32_t *i32 = h5w_alloc(w, (size_t)n, sizeof *i32);
    size_t f64_cols = (size_t)(nr > max_eig ? nr : max_eig);
    double *f64 = h5w_alloc(w, (size_t)n * (f64_cols ? f64_cols : 1), sizeof *f64);
    float *maps = h5w_alloc(w, (size_t)n * hw, sizeof *maps);
    if (h5w_ok(w)) {
        const gm_audit_class *cl = a->classes;
#define GM_STR_COL(name, expr)                                            \
    for (int i = 0; i < n; ++i) s[i] = (expr) ? (expr) : "";              \
    col_str(w, g, G, name, s, n)
#define GM_I32_COL(name, expr)                                            \
    for (int i = 0; i < n; ++i) i32[i] = (int32_t)(expr);                 \
    col_i32(w, g, G, name, i32, n)
        GM_STR_COL("name", cl[i].name);
        for (int i = 0; i < n; ++i) s[i] = cl[i].reason; /* an array: never NULL */
        col_str(w, g, G, "reason", s, n);
        GM_STR_COL("error", cl[i].error);
        GM_I32_COL("model_class", cl[i].model_class >= 0 ? cl[i].model_class : -1);
        GM_I32_COL("n_images", cl[i].n_images);
        GM_I32_COL("n_explained", cl[i].n_explained);
        GM_I32_COL("n_correct", cl[i].n_correct);
        GM_I32_COL("spray_k", cl[i].spray.n > 0 ? cl[i].spray.k : 0);
        GM_I32_COL("flagged", cl[i].flagged ? 1 : 0);
        GM_I32_COL("n_eigen", cl[i].spray.eigenvalues ? cl[i].spray.n_eigen : 0);
        GM_I32_COL("order", a->class_order[i]);
#undef GM_STR_COL
#undef GM_I32_COL
        static const char *const names[CL_N] = {"accuracy",    "inside_mean", "inside_sd",
                                                "pointing_rate", "border_mean", "border_sd",
                                                "outside_share", "eigengap",   "suspicion"};
        for (int k = 0; k < CL_N; ++k) {
            for (int i = 0; i < n; ++i) f64[i] = class_value(&cl[i], k);
            col_f64(w, g, G, names[k], f64, n);
        }
        for (int i = 0; i < n; ++i)
            for (int r = 0; r < nr; ++r) f64[(size_t)i * nr + r] = cl[i].regions[r].mean;
        mat_f64(w, g, G, "region_mean", f64, n, nr);
        for (int i = 0; i < n; ++i)
            for (int r = 0; r < nr; ++r) f64[(size_t)i * nr + r] = cl[i].regions[r].sd;
        mat_f64(w, g, G, "region_sd", f64, n, nr);
        for (int i = 0; i < n; ++i) {
            int ne = cl[i].spray.eigenvalues ? cl[i].spray.n_eigen : 0;
            for (int e = 0; e < max_eig; ++e) f64[(size_t)i * max_eig + e] = e < ne ? cl[i].spray.eigenvalues[e] : NAN;
        }
        hsize_t de[2] = {(hsize_t)n, (hsize_t)max_eig};
        dset(w, g, G, "eigenvalues", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, de, f64, 0);
        for (int i = 0; i < n; ++i) copy_map_or_nan(maps + (size_t)i * hw, cl[i].mean_map, hw);
        maps_f32(w, g, G, "mean_map", maps, n, a->map_h, a->map_w);
    }
    free(s);
    free(i32);
    free(f64);
    free(maps);
    group_close(w, g, "classes");
}

static void write_clusters(h5w *w, hid_t f, const gm_audit *a) {
    const char *G = "/clusters";
    int n = 0, nr = a->n_regions;
    size_t hw = (size_t)a->map_h * (size_t)a->map_w;
    for (int c = 0; c < a->n_classes; ++c)
        if (a->classes[c].clusters && a->classes[c].spray.k > 0) n += a->classes[c].spray.k;
    hid_t g = group_open(w, f, "clusters");
    attr_str(w, g, "note",
             "one row per (class, cluster); the members of a cluster are the images with /images/label == class "
             "and /images/cluster == cluster");
    const gm_audit_cluster **rows = h5w_alloc(w, (size_t)n, sizeof *rows);
    int32_t *cls = h5w_alloc(w, (size_t)n, sizeof *cls), *idx = h5w_alloc(w, (size_t)n, sizeof *idx);
    int32_t *i32 = h5w_alloc(w, (size_t)n, sizeof *i32);
    int8_t *i8 = h5w_alloc(w, (size_t)n, sizeof *i8);
    double *f64 = h5w_alloc(w, (size_t)n * (size_t)(nr ? nr : 1), sizeof *f64);
    float *maps = h5w_alloc(w, (size_t)n * hw, sizeof *maps);
    if (h5w_ok(w)) {
        int row = 0;
        for (int c = 0; c < a->n_classes; ++c)
            for (int k = 0; a->classes[c].clusters && k < a->classes[c].spray.k; ++k) {
                rows[row] = &a->classes[c].clusters[k];
                cls[row] = c;
                idx[row] = k;
                ++row;
            }
        col_i32(w, g, G, "class", cls, n);
        col_i32(w, g, G, "cluster", idx, n);
        for (int i = 0; i < n; ++i) i32[i] = rows[i]->size;
        col_i32(w, g, G, "size", i32, n);
        for (int i = 0; i < n; ++i) f64[i] = rows[i]->accuracy;
        col_f64(w, g, G, "accuracy", f64, n);
        for (int i = 0; i < n; ++i) f64[i] = rows[i]->pointing.mean;
        col_f64(w, g, G, "pointing_rate", f64, n);
        for (int i = 0; i < n; ++i) f64[i] = rows[i]->inside.mean;
        col_f64(w, g, G, "inside_mean", f64, n);
        for (int i = 0; i < n; ++i) f64[i] = rows[i]->border.mean;
        col_f64(w, g, G, "border_mean", f64, n);
        for (int i = 0; i < n; ++i)
            for (int r = 0; r < nr; ++r) f64[(size_t)i * nr + r] = rows[i]->regions[r].mean;
        mat_f64(w, g, G, "region_mean", f64, n, nr);
        for (int i = 0; i < n; ++i) i8[i] = rows[i]->qualifies ? 1 : 0;
        col_i8(w, g, G, "qualifies", i8, n);
        for (int i = 0; i < n; ++i) i8[i] = rows[i]->off_object ? 1 : 0;
        col_i8(w, g, G, "off_object", i8, n);
        for (int i = 0; i < n; ++i) copy_map_or_nan(maps + (size_t)i * hw, rows[i]->mean_map, hw);
        maps_f32(w, g, G, "mean_map", maps, n, a->map_h, a->map_w);
    }
    free(rows);
    free(cls);
    free(idx);
    free(i32);
    free(i8);
    free(f64);
    free(maps);
    group_close(w, g, "clusters");
}

/* ---- entry point ---- */

/* Builds the whole file in memory (HDF5's core driver, no backing store) and returns its image
 * (malloc'd). HDF5 never touches the disk: when the sec2 driver's writes fail (full disk), HDF5 1.10
 * cannot close the file and crashes at exit, so all disk I/O is left to a gm_safe_file (safe_file.h). */
static void *build_image(h5w *w, const gm_audit *a, const char *name, size_t *size) {
    void *image = NULL;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), f = -1;
    if (fapl < 0 || H5Pset_fapl_core(fapl, (size_t)1 << 20, 0) < 0) h5w_fail(w, "", "(file access properties)");
    if (h5w_ok(w) && (f = H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl)) < 0) h5w_fail(w, "", "(create)");
    if (h5w_ok(w)) {
        write_root(w, f, a);
        write_images(w, f, a);
        write_classes(w, f, a);
        write_clusters(w, f, a);
    }
    ssize_t n = -1;
    if (h5w_ok(w) && (H5Fflush(f, H5F_SCOPE_GLOBAL) < 0 || (n = H5Fget_file_image(f, NULL, 0)) <= 0))
        h5w_fail(w, "", "(file image)");
    if (h5w_ok(w) && (image = h5w_alloc(w, (size_t)n, 1)) && H5Fget_file_image(f, image, (size_t)n) != n)
        h5w_fail(w, "", "(file image)");
    if (f >= 0 && H5Fclose(f) < 0) h5w_fail(w, "", "(close)");
    if (fapl >= 0) H5Pclose(fapl);
    if (!h5w_ok(w)) {
        free(image);
        return NULL;
    }
    *size = (size_t)n;
    return image;
}

gm_status gm_audit_write_h5(const gm_audit *a, const char *dir) {
    if (!dir || !*dir) return gm_error(GM_ERR_INVALID_ARG, "audit.h5: no output folder");
    gm_status valid = gm_audit_check(a);
    if (valid != GM_OK) return gm_error_context(valid, "%s/audit.h5", dir);
    char *path = gm_cli_printf("%s/audit.h5", dir), *tmp = gm_cli_printf("%s/.audit.h5.tmp", dir);
    gm_safe_file out = {0};
    /* The temporary file is created first, so a missing or unwritable DIR fails before any work. */
    gm_status st = path && tmp ? gm_safe_file_open(&out, path, tmp) : gm_error(GM_ERR_NOMEM, "%s/audit.h5: out of memory", dir);
    void *image = NULL;
    if (st == GM_OK) {
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        h5w w = {.str = vlen_string_type()};
        if (w.str < 0) h5w_fail(&w, "", "(string type)");
        size_t size = 0;
        image = h5w_ok(&w) ? build_image(&w, a, path, &size) : NULL;
        if (w.str >= 0) H5Tclose(w.str);
        if (w.nomem) st = gm_error(GM_ERR_NOMEM, "%s: out of memory", path);
        else if (w.failed) st = gm_error(GM_ERR_IO, "%s: cannot build the HDF5 file (HDF5 failed at %s)", path, w.what);
        else gm_safe_file_write(&out, image, size);
    }
    if (st == GM_OK) st = gm_safe_file_commit(&out);
    gm_safe_file_abort(&out);
    free(image);
    free(path);
    free(tmp);
    return st;
}
