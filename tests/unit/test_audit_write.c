/* test_audit_write.c — gm_audit_write_csv and gm_audit_write_h5 (host/cli/audit_output.h) on a
 * synthetic audit built by hand (2 dataset classes; 5 images: one error row, one with a note, a path
 * and names that need CSV quoting, NaN metrics, an empty map; 2 regions; one class with 2 SpRAy
 * clusters and eigenvalues, one with nothing explained). images.csv and classes.csv are parsed with
 * a strict RFC 4180 reader and compared field by field (header, quoting round trip, empty fields
 * for undefined values, classes in class_order); audit.h5 is read with plain HDF5 and compared
 * exactly (integers, float bits, NaN where undefined, strings, NaN-filled mean maps, NaN-padded
 * eigenvalues, chunked gzip maps). An empty audit writes header-only CSVs and 0-row datasets.
 * Failures: a missing DIR, a DIR that is a regular file, and a full disk (a file-size limit) are
 * GM_ERR_IO naming the file, leave no final file and no temporary file, and keep earlier files.
 * Perturbed expectations are shown to be rejected, so each comparison can fail. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

#include "audit_output.h"
#include "test_support.h"

enum { N_IMAGES = 5, MAP_H = 4, MAP_W = 6, MAP_HW = MAP_H * MAP_W, N_IMG_COLS = 25, N_CLS_COLS = 22 };

static const char *const model_names[3] = {"cat, \"tabby\"", "bird", "dog"};

/* ---- small helpers ---- */

static char *xstrdup(const char *s) {
    char *d = malloc(strlen(s) + 1);
    if (d) strcpy(d, s);
    return d;
}

static char *join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *grown = realloc(buf, 2 * cap + 1);
            if (!grown) free(buf);
            buf = grown;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

/* Entries of a folder other than . and ..; -1 when it cannot be opened. */
static int dir_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) ++n;
    closedir(d);
    return n;
}

static int exists(const char *dir, const char *name) {
    char *p = join(dir, name);
    int yes = p && access(p, F_OK) == 0;
    free(p);
    return yes;
}

static int no_temp_files(const char *dir) {
    return !exists(dir, ".images.csv.tmp") && !exists(dir, ".classes.csv.tmp") && !exists(dir, ".audit.h5.tmp");
}

static void remove_outputs(const char *dir) {
    const char *names[] = {"images.csv", "classes.csv", "audit.h5", ".images.csv.tmp", ".classes.csv.tmp",
                           ".audit.h5.tmp"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; ++i) {
        char *p = join(dir, names[i]);
        if (p) remove(p);
        free(p);
    }
}

/* ---- the synthetic audit ---- */

static void set_stat(gm_audit_stat *s, double mean, double sd, int n) {
    s->mean = mean, s->sd = sd, s->n = n;
}

static void nan_stat(gm_audit_stat *s) { set_stat(s, NAN, NAN, 0); }

typedef struct img_spec {
    const char *path, *error, *note;
    int cls, ok, width, height, predicted, target, correct, has_object, cluster;
    float probability;
    double mass, inside, point_distance, object_area, border, region0, region1;
    int pointing, max_x, max_y;
} img_spec;

static const img_spec img_specs[N_IMAGES] = {
    {"a,\"b\".png", NULL, NULL, 1, 1, 32, 24, 0, 0, 1, 1, 0, 0.875f, 12.5, 0.75, 0.0, 0.25, 0.125, 0.0625, 0.5, 1, 3, 4},
    {"img1.png", NULL, "no mask for \"img1.png\", object metrics skipped", 1, 1, 40, 30, 2, 0, 0, 0, 1, 0.4f, 3.0, NAN,
     NAN, NAN, 0.625, 0.7, 0.1, -1, 5, 0},
    {"img2.png", NULL, NULL, 1, 1, 32, 24, 0, 0, 1, 1, 0, 0.6f, 0.0, NAN, NAN, 0.5, NAN, NAN, NAN, -1, -1, -1},
    {"bad.png", "cannot decode \"bad.png\":\r\nline 2, col 1", NULL, 0, 0, 0, 0, -1, -1, 0, 0, -1, 0.0f, 0.0, NAN, NAN,
     NAN, NAN, NAN, NAN, -1, -1, -1},
    {"cat4.png", NULL, NULL, 1, 1, 64, 48, 0, 0, 1, 1, 0, 0.99f, 7.25, 0.2, 5.5, 0.125, 0.0, 0.25, 0.125, 0, 1, 2},
};

static const double class1_eigen[3] = {0.0, 0.125, 1.5};

static float map_value(int which, int p) { return (float)(which * 100 + p) / 7.0f; }

/* Class 0 "bird": one image, not explained (label not in the model). Class 1 `cat,"x"`: four
 * explained images, SpRAy k = 2 (cluster 0 = images 0, 2, 4; cluster 1 = image 1), flagged.
 * class_order = {1, 0}, so classes.csv's order differs from the dataset's. */
static int build_audit(gm_audit *a) {
    memset(a, 0, sizeof *a);
    a->model_path = xstrdup("models/m,1.h5");
    a->data_path = xstrdup("data/list.csv");
    a->method = xstrdup("gradcam");
    a->target_layer = xstrdup("conv5_block3_out");
    a->target_mode = xstrdup("label");
    a->command_line = xstrdup("gradmap audit --region \"corner=85%,85%,100%,100%\"");
    a->device = xstrdup("cpu");
    a->seed = 0xFEDCBA9876543210ull;
    a->metric_options.pointing_tolerance_px = 15.0;
    a->metric_options.border_fraction = 0.1;
    a->spray_config = (gm_spray_config){32, 10, 8, 16, 10, 7, 2000};
    snprintf(a->regions[0].name, GM_AUDIT_NAME_MAX, "corner");
    snprintf(a->regions[1].name, GM_AUDIT_NAME_MAX, "top");
    const double rects[2][4] = {{85, 85, 100, 100}, {0, 0, 32.5, 8}};
    for (int r = 0; r < 2; ++r)
        for (int k = 0; k < 4; ++k) {
            a->regions[r].v[k] = rects[r][k];
            a->regions[r].percent[k] = r == 0;
        }
    a->n_regions = 2;
    a->has_objects = 1;
    a->model_class_names = model_names;
    a->n_model_classes = 3;
    a->map_h = MAP_H, a->map_w = MAP_W;
    a->baseline_inside = 0.475;
    a->n_flagged = 1;

    a->n_images = N_IMAGES;
    a->images = calloc(N_IMAGES, sizeof *a->images);
    a->maps = calloc((size_t)N_IMAGES * MAP_HW, sizeof *a->maps);
    a->n_classes = 2;
    a->classes = calloc(2, sizeof *a->classes);
    a->class_order = malloc(2 * sizeof *a->class_order);
    if (!a->images || !a->maps || !a->classes || !a->class_order) return 0;
    a->class_order[0] = 1, a->class_order[1] = 0;
    for (int i = 0; i < N_IMAGES; ++i) {
        const img_spec *s = &img_specs[i];
        gm_audit_image *im = &a->images[i];
        im->path = xstrdup(s->path);
        im->error = s->error ? xstrdup(s->error) : NULL;
        im->note = s->note ? xstrdup(s->note) : NULL;
        if (!im->path || (s->error && !im->error) || (s->note && !im->note)) return 0;
        im->cls = s->cls, im->ok = s->ok, im->width = s->width, im->height = s->height;
        im->predicted = s->predicted, im->probability = s->probability, im->target = s->target;
        im->correct = s->correct, im->has_object = s->has_object, im->cluster = s->cluster;
        im->m.mass = s->mass, im->m.inside = s->inside, im->m.pointing = s->pointing;
        im->m.point_distance = s->point_distance, im->m.max_x = s->max_x, im->m.max_y = s->max_y;
        im->m.object_area = s->object_area, im->m.border = s->border;
        im->m.regions[0] = s->region0, im->m.regions[1] = s->region1;
        for (int p = 0; s->ok && p < MAP_HW; ++p) a->maps[(size_t)i * MAP_HW + p] = map_value(i, p);
    }

    gm_audit_class *bird = &a->classes[0];
    bird->name = xstrdup("bird");
    bird->error = xstrdup("label \"bird\" is not a class of the model");
    bird->model_class = -1;
    bird->n_images = 1;
    bird->accuracy = NAN;
    nan_stat(&bird->inside), nan_stat(&bird->pointing), nan_stat(&bird->border);
    nan_stat(&bird->regions[0]), nan_stat(&bird->regions[1]);
    bird->outside_share = NAN;

    gm_audit_class *cat = &a->classes[1];
    cat->name = xstrdup("cat,\"x\"");
    cat->model_class = 0;
    cat->n_images = 4, cat->n_explained = 4, cat->n_correct = 3;
    cat->accuracy = 0.75;
    set_stat(&cat->inside, 0.475, 0.275, 2);
    set_stat(&cat->pointing, 0.5, 0.5, 2);
    set_stat(&cat->border, 0.25, 0.25, 3);
    set_stat(&cat->regions[0], 0.3375, 0.25, 3);
    set_stat(&cat->regions[1], 0.25, NAN, 3);
    cat->outside_share = 0.5;
    cat->flagged = 1;
    cat->suspicion = 0.625;
    snprintf(cat->reason, sizeof cat->reason, "cluster 1: 62.5%% of the mass in the border band, \"corner\" 70%%");
    cat->mean_map = malloc(MAP_HW * sizeof *cat->mean_map);
    cat->spray.n = 4, cat->spray.k = 2, cat->spray.n_eigen = 3, cat->spray.eigengap = 1.375;
    cat->spray.eigenvalues = malloc(3 * sizeof *cat->spray.eigenvalues);
    cat->spray.labels = malloc(4 * sizeof *cat->spray.labels);
    cat->clusters = calloc(2, sizeof *cat->clusters);
    if (!bird->name || !bird->error || !cat->name || !cat->mean_map || !cat->spray.eigenvalues || !cat->spray.labels ||
        !cat->clusters)
        return 0;
    memcpy(cat->spray.eigenvalues, class1_eigen, sizeof class1_eigen);
    const int labels[4] = {0, 1, 0, 0};
    memcpy(cat->spray.labels, labels, sizeof labels);
    for (int p = 0; p < MAP_HW; ++p) cat->mean_map[p] = map_value(10, p);
    const int sizes[2] = {3, 1}, members0[3] = {0, 2, 4}, members1[1] = {1};
    const int *members[2] = {members0, members1};
    for (int k = 0; k < 2; ++k) {
        gm_audit_cluster *cl = &cat->clusters[k];
        cl->size = sizes[k];
        cl->members = malloc((size_t)sizes[k] * sizeof *cl->members);
        cl->mean_map = malloc(MAP_HW * sizeof *cl->mean_map);
        if (!cl->members || !cl->mean_map) return 0;
        memcpy(cl->members, members[k], (size_t)sizes[k] * sizeof *cl->members);
        for (int p = 0; p < MAP_HW; ++p) cl->mean_map[p] = map_value(20 + k, p);
        cl->accuracy = k == 0 ? 1.0 : 0.0;
        if (k == 0) set_stat(&cl->inside, 0.475, 0.275, 2);
        else nan_stat(&cl->inside);
        set_stat(&cl->pointing, k == 0 ? 0.5 : NAN, 0, k == 0 ? 2 : 0);
        set_stat(&cl->border, k == 0 ? 0.0625 : 0.625, 0, k == 0 ? 2 : 1);
        set_stat(&cl->regions[0], k == 0 ? 0.15625 : 0.7, 0, 1);
        set_stat(&cl->regions[1], k == 0 ? 0.3125 : 0.1, 0, 1);
        cl->qualifies = k == 0;
        cl->off_object = k == 1;
    }
    return 1;
}

/* ---- a strict RFC 4180 reader ---- */

typedef struct csv_table {
    int rows;
    int *cols;
    char ***f; /* f[row][col] */
} csv_table;

static void csv_free(csv_table *t) {
    for (int r = 0; r < t->rows; ++r) {
        for (int c = 0; c < t->cols[r]; ++c) free(t->f[r][c]);
        free(t->f[r]);
    }
    free(t->f);
    free(t->cols);
    memset(t, 0, sizeof *t);
}

typedef struct strbuf {
    char *s;
    size_t n, cap;
} strbuf;

static int sb_put(strbuf *b, char ch) {
    if (b->n + 2 > b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 64;
        char *g = realloc(b->s, cap);
        if (!g) return 0;
        b->s = g, b->cap = cap;
    }
    b->s[b->n++] = ch;
    b->s[b->n] = '\0';
    return 1;
}

static int csv_add_field(csv_table *t, strbuf *b, int new_row) {
    if (new_row) {
        char ***f = realloc(t->f, (size_t)(t->rows + 1) * sizeof *f);
        int *cols = f ? realloc(t->cols, (size_t)(t->rows + 1) * sizeof *cols) : NULL;
        if (f) t->f = f;
        if (!cols) return 0;
        t->cols = cols;
        t->f[t->rows] = NULL;
        t->cols[t->rows] = 0;
        ++t->rows;
    }
    int r = t->rows - 1;
    char **row = realloc(t->f[r], (size_t)(t->cols[r] + 1) * sizeof *row);
    if (!row) return 0;
    t->f[r] = row;
    row[t->cols[r]++] = xstrdup(b->s ? b->s : "");
    b->n = 0;
    if (b->s) b->s[0] = '\0';
    return row[t->cols[r] - 1] != NULL;
}

/* Every row must end with "\n"; a quote may only open a field, and a closing quote must be followed
 * by ',' or the row end. Returns 1 when the text is well-formed. */
static int csv_parse(const char *text, csv_table *t) {
    memset(t, 0, sizeof *t);
    strbuf b = {0};
    const char *p = text;
    int ok = 1, new_row = 1;
    while (ok && *p) {
        if (*p == '"') {
            for (++p;; ++p) {
                if (!*p) {
                    ok = 0;
                    break;
                }
                if (*p == '"') {
                    if (p[1] == '"') {
                        ++p;
                    } else {
                        ++p;
                        break;
                    }
                }
                ok = sb_put(&b, *p);
                if (!ok) break;
            }
            if (ok && *p != ',' && *p != '\n') ok = 0;
        } else {
            for (; *p && *p != ',' && *p != '\n'; ++p)
                if (*p == '"' || *p == '\r' || !sb_put(&b, *p)) ok = 0;
            if (!*p) ok = 0; /* no row end */
        }
        if (!ok) break;
        ok = csv_add_field(t, &b, new_row);
        new_row = *p == '\n';
        ++p;
    }
    free(b.s);
    if (!ok) csv_free(t);
    return ok;
}

/* Compares one parsed row with `want`; prints the first difference. */
static int row_equals(const csv_table *t, int row, const char *const *want, int n, const char *what) {
    if (row >= t->rows) {
        fprintf(stderr, "  %s: row %d missing\n", what, row);
        return 0;
    }
    if (t->cols[row] != n) {
        fprintf(stderr, "  %s row %d: %d fields, want %d\n", what, row, t->cols[row], n);
        return 0;
    }
    for (int c = 0; c < n; ++c)
        if (strcmp(t->f[row][c], want[c]) != 0) {
            fprintf(stderr, "  %s row %d field %d: got [%s], want [%s]\n", what, row, c, t->f[row][c], want[c]);
            return 0;
        }
    return 1;
}

static int read_csv(const char *dir, const char *name, csv_table *t) {
    memset(t, 0, sizeof *t);
    char *p = join(dir, name);
    char *text = p ? slurp(p, NULL) : NULL;
    int ok = text && csv_parse(text, t);
    free(text);
    free(p);
    return ok;
}

static const char *const images_header[N_IMG_COLS] = {
    "path",  "label",       "label_index",  "status",         "error",      "note",          "width",
    "height", "predicted",  "predicted_name", "probability",  "correct",    "target",        "target_name",
    "mass",  "inside",      "pointing",     "point_distance", "max_x",      "max_y",         "object_area",
    "border", "corner",     "top",          "cluster"};

static const char *const images_rows[N_IMAGES][N_IMG_COLS] = {
    {"a,\"b\".png", "cat,\"x\"", "0", "ok", "", "", "32", "24", "0", "cat, \"tabby\"", "0.875", "1", "0",
     "cat, \"tabby\"", "12.5", "0.75", "1", "0", "3", "4", "0.25", "0.125", "0.0625", "0.5", "0"},
    {"img1.png", "cat,\"x\"", "0", "ok", "", "no mask for \"img1.png\", object metrics skipped", "40", "30", "2", "dog",
     "0.4", "0", "0", "cat, \"tabby\"", "3", "", "", "", "5", "0", "", "0.625", "0.7", "0.1", "1"},
    {"img2.png", "cat,\"x\"", "0", "ok", "", "", "32", "24", "0", "cat, \"tabby\"", "0.6", "1", "0", "cat, \"tabby\"",
     "0", "", "", "", "", "", "0.5", "", "", "", "0"},
    {"bad.png", "bird", "", "error", "cannot decode \"bad.png\":\r\nline 2, col 1", "", "0", "0", "", "", "", "", "",
     "", "", "", "", "", "", "", "", "", "", "", ""},
    {"cat4.png", "cat,\"x\"", "0", "ok", "", "", "64", "48", "0", "cat, \"tabby\"", "0.99", "1", "0", "cat, \"tabby\"",
     "7.25", "0.2", "0", "5.5", "1", "2", "0.125", "0", "0.25", "0.125", "0"},
};

static const char *const classes_header[N_CLS_COLS] = {
    "class",       "model_class", "images",      "explained",     "errors",    "accuracy",  "inside_mean", "inside_sd",
    "pointing_rate", "border_mean", "border_sd", "corner_mean",   "corner_sd", "top_mean",  "top_sd",
    "outside_share", "spray_k",   "eigengap",    "suspicion",     "flagged",   "reason",    "error"};

/* In class_order: cat (index 1) first, then bird. */
static const char *const classes_rows[2][N_CLS_COLS] = {
    {"cat,\"x\"", "0", "4", "4", "0", "0.75", "0.475", "0.275", "0.5", "0.25", "0.25", "0.3375", "0.25", "0.25", "",
     "0.5", "2", "1.375", "0.625", "1", "cluster 1: 62.5% of the mass in the border band, \"corner\" 70%", ""},
    {"bird", "", "1", "0", "1", "", "", "", "", "", "", "", "", "", "", "", "", "", "0", "0", "",
     "label \"bird\" is not a class of the model"},
};

static void check_csv(gm_test_counts *c, const gm_audit *a, const char *dir) {
    gm_status st = gm_audit_write_csv(a, dir);
    gm_test_check(c, st == GM_OK, "csv: written (%s)", st == GM_OK ? "ok" : gm_last_error());
    gm_test_check(c, exists(dir, "images.csv") && exists(dir, "classes.csv") && no_temp_files(dir),
                  "csv: images.csv and classes.csv in place, no temporary file left");

    csv_table t;
    int parsed = read_csv(dir, "images.csv", &t);
    gm_test_check(c, parsed, "images.csv: well-formed RFC 4180");
    if (parsed) {
        gm_test_check(c, t.rows == 1 + N_IMAGES, "images.csv: header + %d rows (got %d rows)", N_IMAGES, t.rows);
        gm_test_check(c, row_equals(&t, 0, images_header, N_IMG_COLS, "images.csv"), "images.csv: exact header");
        for (int i = 0; i < N_IMAGES; ++i)
            gm_test_check(c, row_equals(&t, 1 + i, images_rows[i], N_IMG_COLS, "images.csv"),
                          "images.csv: row %d (%s) field by field", i, img_specs[i].path);
        /* The comparison must be able to fail: one perturbed expectation. */
        const char *wrong[N_IMG_COLS];
        memcpy(wrong, images_rows[1], sizeof wrong);
        wrong[15] = "0"; /* inside is NaN: the field must be empty, not 0 */
        fprintf(stderr, "  (the next comparison is expected to differ)\n");
        gm_test_check(c, !row_equals(&t, 2, wrong, N_IMG_COLS, "images.csv"),
                      "images.csv: a perturbed expectation is rejected");
        csv_free(&t);
    }

    parsed = read_csv(dir, "classes.csv", &t);
    gm_test_check(c, parsed, "classes.csv: well-formed RFC 4180");
    if (parsed) {
        gm_test_check(c, t.rows == 3, "classes.csv: header + 2 rows (got %d rows)", t.rows);
        gm_test_check(c, row_equals(&t, 0, classes_header, N_CLS_COLS, "classes.csv"), "classes.csv: exact header");
        gm_test_check(c, row_equals(&t, 1, classes_rows[0], N_CLS_COLS, "classes.csv") &&
                             row_equals(&t, 2, classes_rows[1], N_CLS_COLS, "classes.csv"),
                      "classes.csv: rows in class_order (cat before bird), every field");
        csv_free(&t);
    }

    csv_table bad;
    gm_test_check(c, !csv_parse("a,\"b\"c\n", &bad) && !csv_parse("a,b", &bad) && !csv_parse("a,\"b\n", &bad),
                  "the test's CSV reader rejects malformed text");
}

/* ---- HDF5 read-back ---- */

static hid_t h5_open(const char *path) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    return H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
}

/* Reads a whole dataset as mem_type into a malloc'd buffer (NULL when missing); dims returned. */
static void *h5_read(hid_t f, const char *name, hid_t mem_type, size_t elem, int *rank, hsize_t dims[8]) {
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) return NULL;
    hid_t s = H5Dget_space(d);
    int r = s >= 0 ? H5Sget_simple_extent_ndims(s) : -1;
    void *out = NULL;
    if (r >= 0 && r <= 8 && H5Sget_simple_extent_dims(s, dims, NULL) >= 0) {
        size_t n = 1;
        for (int i = 0; i < r; ++i) n *= dims[i];
        *rank = r;
        out = calloc(n + 1, elem);
        if (out && n > 0 && H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0) {
            free(out);
            out = NULL;
        }
    }
    if (s >= 0) H5Sclose(s);
    H5Dclose(d);
    return out;
}

static int shape_is(int rank, const hsize_t *dims, int want_rank, long long d0, long long d1, long long d2) {
    long long want[3] = {d0, d1, d2};
    if (rank != want_rank) return 0;
    for (int i = 0; i < rank; ++i)
        if ((long long)dims[i] != want[i]) return 0;
    return 1;
}

/* A 1-D int dataset equals `want` (n values). */
static int ints_are(hid_t f, const char *name, const int *want, int n) {
    int rank = 0;
    hsize_t dims[8];
    int32_t *v = h5_read(f, name, H5T_NATIVE_INT32, sizeof *v, &rank, dims);
    int ok = v && shape_is(rank, dims, 1, n, 0, 0);
    for (int i = 0; ok && i < n; ++i) ok = v[i] == want[i];
    if (!ok) fprintf(stderr, "  %s: differs (read %s)\n", name, v ? "ok" : "failed");
    free(v);
    return ok;
}

/* Doubles equal bit for bit, or both NaN. */
static int same_double(double got, double want) {
    if (isnan(want)) return isnan(got);
    return memcmp(&got, &want, sizeof got) == 0;
}

static int same_float(float got, float want) {
    if (isnan(want)) return isnan(got);
    return memcmp(&got, &want, sizeof got) == 0;
}

static int doubles_are(hid_t f, const char *name, const double *want, int rows, int cols) {
    int rank = 0;
    hsize_t dims[8];
    double *v = h5_read(f, name, H5T_NATIVE_DOUBLE, sizeof *v, &rank, dims);
    int ok = v && (cols ? shape_is(rank, dims, 2, rows, cols, 0) : shape_is(rank, dims, 1, rows, 0, 0));
    int n = rows * (cols ? cols : 1);
    for (int i = 0; ok && i < n; ++i)
        if (!same_double(v[i], want[i])) {
            fprintf(stderr, "  %s[%d]: got %.17g, want %.17g\n", name, i, v[i], want[i]);
            ok = 0;
        }
    if (!v) fprintf(stderr, "  %s: cannot read\n", name);
    free(v);
    return ok;
}

static int floats_are(hid_t f, const char *name, const float *want, int rank_want, long long d0, long long d1,
                      long long d2) {
    int rank = 0;
    hsize_t dims[8];
    float *v = h5_read(f, name, H5T_NATIVE_FLOAT, sizeof *v, &rank, dims);
    int ok = v && shape_is(rank, dims, rank_want, d0, d1, d2);
    long long n = d0 * (rank_want > 1 ? d1 : 1) * (rank_want > 2 ? d2 : 1);
    for (long long i = 0; ok && i < n; ++i)
        if (!same_float(v[i], want[i])) {
            fprintf(stderr, "  %s[%lld]: got %.9g, want %.9g\n", name, i, v[i], want[i]);
            ok = 0;
        }
    if (!v) fprintf(stderr, "  %s: cannot read\n", name);
    free(v);
    return ok;
}

static int strings_are(hid_t f, const char *name, const char *const *want, int n) {
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) {
        fprintf(stderr, "  %s: missing\n", name);
        return 0;
    }
    hid_t t = H5Tcopy(H5T_C_S1), s = H5Dget_space(d);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    char **v = calloc((size_t)n + 1, sizeof *v);
    int ok = v && H5Sget_simple_extent_npoints(s) == n && (n == 0 || H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    for (int i = 0; ok && i < n; ++i)
        if (!v[i] || strcmp(v[i], want[i]) != 0) {
            fprintf(stderr, "  %s[%d]: got [%s], want [%s]\n", name, i, v[i] ? v[i] : "(null)", want[i]);
            ok = 0;
        }
    if (v && n > 0) H5Dvlen_reclaim(t, s, H5P_DEFAULT, v);
    free(v);
    H5Sclose(s);
    H5Tclose(t);
    H5Dclose(d);
    return ok;
}

static int attr_read(hid_t f, const char *obj, const char *name, hid_t mem_type, void *out) {
    hid_t a = H5Aopen_by_name(f, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) return 0;
    int ok = H5Aread(a, mem_type, out) >= 0;
    H5Aclose(a);
    return ok;
}

static int attr_string_is(const char *path, const char *obj, const char *name, const char *want) {
    char *v = gm_test_h5_read_string_attr(path, obj, name);
    int ok = v && strcmp(v, want) == 0;
    if (!ok) fprintf(stderr, "  %s@%s: got [%s], want [%s]\n", obj, name, v ? v : "(missing)", want);
    free(v);
    return ok;
}

/* A map dataset is chunked one map per chunk and gzip level 4 compressed. */
static int is_gzip_chunked(hid_t f, const char *name) {
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) return 0;
    hid_t p = H5Dget_create_plist(d);
    hsize_t chunk[3] = {0};
    unsigned flags = 0, cd[4] = {0};
    size_t n_cd = 4;
    int ok = p >= 0 && H5Pget_layout(p) == H5D_CHUNKED && H5Pget_chunk(p, 3, chunk) == 3 && chunk[0] == 1 &&
             chunk[1] == MAP_H && chunk[2] == MAP_W && H5Pget_nfilters(p) >= 1 &&
             H5Pget_filter2(p, 0, &flags, &n_cd, cd, 0, NULL, NULL) == H5Z_FILTER_DEFLATE && n_cd >= 1 && cd[0] == 4;
    if (p >= 0) H5Pclose(p);
    H5Dclose(d);
    return ok;
}

static void check_h5(gm_test_counts *c, const gm_audit *a, const char *dir) {
    gm_status st = gm_audit_write_h5(a, dir);
    gm_test_check(c, st == GM_OK, "h5: written (%s)", st == GM_OK ? "ok" : gm_last_error());
    gm_test_check(c, exists(dir, "audit.h5") && no_temp_files(dir), "h5: audit.h5 in place, no temporary file left");
    char *path = join(dir, "audit.h5");
    hid_t f = path ? h5_open(path) : -1;
    gm_test_check(c, f >= 0, "h5: opens with plain HDF5");
    if (f < 0) {
        free(path);
        return;
    }

    /* root */
    int ok = attr_string_is(path, "/", "format", "gradmap-audit") &&
             attr_string_is(path, "/", "gradmap_version", "unknown") &&
             attr_string_is(path, "/", "model", "models/m,1.h5") && attr_string_is(path, "/", "data", "data/list.csv") &&
             attr_string_is(path, "/", "method", "gradcam") &&
             attr_string_is(path, "/", "target_layer", "conv5_block3_out") &&
             attr_string_is(path, "/", "target_mode", "label") && attr_string_is(path, "/", "device", "cpu") &&
             attr_string_is(path, "/", "command_line", a->command_line);
    gm_test_check(c, ok, "h5: root string attributes (GM_VERSION is not defined for the test: \"unknown\")");
    uint64_t seed = 0;
    double tol = 0, border = 0, baseline = 0;
    long long n_flagged = -1, map_h = -1, map_w = -1;
    ok = attr_read(f, "/", "seed", H5T_NATIVE_UINT64, &seed) && seed == a->seed &&
         attr_read(f, "/", "pointing_tolerance_px", H5T_NATIVE_DOUBLE, &tol) && tol == 15.0 &&
         attr_read(f, "/", "border_fraction", H5T_NATIVE_DOUBLE, &border) && same_double(border, 0.1) &&
         attr_read(f, "/", "baseline_inside", H5T_NATIVE_DOUBLE, &baseline) && same_double(baseline, 0.475) &&
         attr_read(f, "/", "n_flagged", H5T_NATIVE_LLONG, &n_flagged) && n_flagged == 1 &&
         attr_read(f, "/", "map_h", H5T_NATIVE_LLONG, &map_h) && map_h == MAP_H &&
         attr_read(f, "/", "map_w", H5T_NATIVE_LLONG, &map_w) && map_w == MAP_W;
    gm_test_check(c, ok, "h5: numeric root attributes (seed %llx as uint64, baseline, n_flagged, map size)",
                  (unsigned long long)seed);
    const char *const region_names[2] = {"corner", "top"};
    const double rects[8] = {85, 85, 100, 100, 0, 0, 32.5, 8};
    const int percent[8] = {1, 1, 1, 1, 0, 0, 0, 0};
    int rank = 0;
    hsize_t dims[8];
    int32_t *pc = h5_read(f, "region_percent", H5T_NATIVE_INT32, sizeof *pc, &rank, dims);
    ok = pc && shape_is(rank, dims, 2, 2, 4, 0);
    for (int i = 0; ok && i < 8; ++i) ok = pc[i] == percent[i];
    free(pc);
    gm_test_check(c,
                  ok && strings_are(f, "regions", region_names, 2) && doubles_are(f, "region_rects", rects, 2, 4),
                  "h5: regions (names, rects as written, percent flags)");

    /* /images */
    const char *paths[N_IMAGES], *errors[N_IMAGES], *notes[N_IMAGES];
    int label[N_IMAGES], status[N_IMAGES], predicted[N_IMAGES], target[N_IMAGES], correct[N_IMAGES];
    int cluster[N_IMAGES], pointing[N_IMAGES], width[N_IMAGES], max_xy[2 * N_IMAGES];
    float prob[N_IMAGES];
    double inside[N_IMAGES], mass[N_IMAGES], pd[N_IMAGES], border_v[N_IMAGES], regions[2 * N_IMAGES];
    for (int i = 0; i < N_IMAGES; ++i) {
        const img_spec *s = &img_specs[i];
        paths[i] = s->path, errors[i] = s->error ? s->error : "", notes[i] = s->note ? s->note : "";
        label[i] = s->cls, status[i] = s->ok, width[i] = s->width;
        predicted[i] = s->predicted, target[i] = s->target, correct[i] = s->ok ? s->correct : -1;
        cluster[i] = s->cluster, pointing[i] = s->pointing;
        max_xy[2 * i] = s->max_x, max_xy[2 * i + 1] = s->max_y;
        prob[i] = s->ok ? s->probability : NAN;
        inside[i] = s->inside, pd[i] = s->point_distance, border_v[i] = s->border;
        mass[i] = s->ok ? s->mass : NAN;
        regions[2 * i] = s->region0, regions[2 * i + 1] = s->region1;
    }
    gm_test_check(c,
                  strings_are(f, "images/path", paths, N_IMAGES) && strings_are(f, "images/error", errors, N_IMAGES) &&
                      strings_are(f, "images/note", notes, N_IMAGES),
                  "h5: /images path, error (CR LF, quotes), note round-trip as strings");
    gm_test_check(c,
                  ints_are(f, "images/label", label, N_IMAGES) && ints_are(f, "images/status", status, N_IMAGES) &&
                      ints_are(f, "images/width", width, N_IMAGES) &&
                      ints_are(f, "images/predicted", predicted, N_IMAGES) &&
                      ints_are(f, "images/target", target, N_IMAGES) &&
                      ints_are(f, "images/correct", correct, N_IMAGES) &&
                      ints_are(f, "images/cluster", cluster, N_IMAGES) &&
                      ints_are(f, "images/pointing", pointing, N_IMAGES),
                  "h5: /images integer columns (-1 where undefined)");
    int32_t *mx = h5_read(f, "images/max_xy", H5T_NATIVE_INT32, sizeof *mx, &rank, dims);
    ok = mx && shape_is(rank, dims, 2, N_IMAGES, 2, 0);
    for (int i = 0; ok && i < 2 * N_IMAGES; ++i) ok = mx[i] == max_xy[i];
    free(mx);
    gm_test_check(c, ok, "h5: /images/max_xy (n x 2)");
    gm_test_check(c,
                  floats_are(f, "images/probability", prob, 1, N_IMAGES, 0, 0) &&
                      doubles_are(f, "images/mass", mass, N_IMAGES, 0) &&
                      doubles_are(f, "images/inside", inside, N_IMAGES, 0) &&
                      doubles_are(f, "images/point_distance", pd, N_IMAGES, 0) &&
                      doubles_are(f, "images/border", border_v, N_IMAGES, 0) &&
                      doubles_are(f, "images/regions", regions, N_IMAGES, 2),
                  "h5: /images reals bit-exact, NaN where undefined (the error row's mass too)");
    double wrong[N_IMAGES];
    memcpy(wrong, inside, sizeof wrong);
    wrong[0] = nextafter(wrong[0], 1.0);
    fprintf(stderr, "  (the next comparison is expected to differ)\n");
    gm_test_check(c, !doubles_are(f, "images/inside", wrong, N_IMAGES, 0), "h5: a value off by one ulp is rejected");
    gm_test_check(c, floats_are(f, "images/map", a->maps, 3, N_IMAGES, MAP_H, MAP_W) && is_gzip_chunked(f, "images/map"),
                  "h5: /images/map (n x %d x %d) bit-exact, one map per chunk, gzip 4", MAP_H, MAP_W);

    /* /classes */
    const char *const names[2] = {"bird", "cat,\"x\""};
    const char *const reasons[2] = {"", a->classes[1].reason};
    const char *const cerrors[2] = {a->classes[0].error, ""};
    const int model_class[2] = {-1, 0}, spray_k[2] = {0, 2}, n_eigen[2] = {0, 3}, order[2] = {1, 0};
    const int n_images[2] = {1, 4}, flagged[2] = {0, 1};
    gm_test_check(c,
                  strings_are(f, "classes/name", names, 2) && strings_are(f, "classes/reason", reasons, 2) &&
                      strings_are(f, "classes/error", cerrors, 2) &&
                      ints_are(f, "classes/model_class", model_class, 2) &&
                      ints_are(f, "classes/n_images", n_images, 2) && ints_are(f, "classes/spray_k", spray_k, 2) &&
                      ints_are(f, "classes/flagged", flagged, 2) && ints_are(f, "classes/n_eigen", n_eigen, 2) &&
                      ints_are(f, "classes/order", order, 2),
                  "h5: /classes in dataset order (names, model_class, counts, spray_k, flagged, n_eigen, order)");
    const double accuracy[2] = {NAN, 0.75}, eigengap[2] = {NAN, 1.375}, suspicion[2] = {0.0, 0.625};
    const double region_mean[4] = {NAN, NAN, 0.3375, 0.25}, region_sd[4] = {NAN, NAN, 0.25, NAN};
    const double eigen[6] = {NAN, NAN, NAN, class1_eigen[0], class1_eigen[1], class1_eigen[2]};
    gm_test_check(c,
                  doubles_are(f, "classes/accuracy", accuracy, 2, 0) &&
                      doubles_are(f, "classes/eigengap", eigengap, 2, 0) &&
                      doubles_are(f, "classes/suspicion", suspicion, 2, 0) &&
                      doubles_are(f, "classes/region_mean", region_mean, 2, 2) &&
                      doubles_are(f, "classes/region_sd", region_sd, 2, 2),
                  "h5: /classes reals (NaN accuracy and eigengap without explained images), region stats");
    gm_test_check(c, doubles_are(f, "classes/eigenvalues", eigen, 2, 3),
                  "h5: /classes/eigenvalues (2 x 3) NaN-padded for the class without a spectrum");
    float cmaps[2 * MAP_HW];
    for (int p = 0; p < MAP_HW; ++p) cmaps[p] = NAN, cmaps[MAP_HW + p] = a->classes[1].mean_map[p];
    gm_test_check(c, floats_are(f, "classes/mean_map", cmaps, 3, 2, MAP_H, MAP_W) && is_gzip_chunked(f, "classes/mean_map"),
                  "h5: /classes/mean_map NaN-filled for the class without a map, exact for the other");

    /* /clusters */
    const int ccls[2] = {1, 1}, cidx[2] = {0, 1}, csize[2] = {3, 1}, qual[2] = {1, 0}, off[2] = {0, 1};
    const double cacc[2] = {1.0, 0.0}, cinside[2] = {0.475, NAN}, cborder[2] = {0.0625, 0.625};
    const double cregions[4] = {0.15625, 0.3125, 0.7, 0.1};
    gm_test_check(c,
                  ints_are(f, "clusters/class", ccls, 2) && ints_are(f, "clusters/cluster", cidx, 2) &&
                      ints_are(f, "clusters/size", csize, 2) && ints_are(f, "clusters/qualifies", qual, 2) &&
                      ints_are(f, "clusters/off_object", off, 2) && doubles_are(f, "clusters/accuracy", cacc, 2, 0) &&
                      doubles_are(f, "clusters/inside_mean", cinside, 2, 0) &&
                      doubles_are(f, "clusters/border_mean", cborder, 2, 0) &&
                      doubles_are(f, "clusters/region_mean", cregions, 2, 2),
                  "h5: /clusters rows (class, cluster, size, flags, means)");
    float kmaps[2 * MAP_HW];
    for (int p = 0; p < MAP_HW; ++p)
        kmaps[p] = a->classes[1].clusters[0].mean_map[p], kmaps[MAP_HW + p] = a->classes[1].clusters[1].mean_map[p];
    char *note = gm_test_h5_read_string_attr(path, "/clusters", "note");
    gm_test_check(c,
                  floats_are(f, "clusters/mean_map", kmaps, 3, 2, MAP_H, MAP_W) && note &&
                      strstr(note, "/images/cluster") && strstr(note, "/images/label"),
                  "h5: /clusters/mean_map exact; the group's note says how to recover members: \"%s\"",
                  note ? note : "(missing)");
    free(note);
    H5Fclose(f);
    free(path);
}

/* An audit without images, classes or regions: header-only CSVs, 0-row datasets, no region columns. */
static void check_empty(gm_test_counts *c, const char *base) {
    char *dir = join(base, "empty");
    if (!dir || mkdir(dir, 0700) != 0) {
        gm_test_check(c, 0, "empty: mkdir");
        free(dir);
        return;
    }
    gm_audit a;
    memset(&a, 0, sizeof a);
    a.map_h = MAP_H, a.map_w = MAP_W;
    a.baseline_inside = NAN;
    gm_status s1 = gm_audit_write_csv(&a, dir), s2 = gm_audit_write_h5(&a, dir);
    gm_test_check(c, s1 == GM_OK && s2 == GM_OK, "empty audit: written (%s)",
                  s1 == GM_OK && s2 == GM_OK ? "ok" : gm_last_error());
    csv_table t;
    int ok = read_csv(dir, "images.csv", &t) && t.rows == 1 && t.cols[0] == N_IMG_COLS - 2;
    if (t.f) csv_free(&t);
    ok = ok && read_csv(dir, "classes.csv", &t) && t.rows == 1 && t.cols[0] == N_CLS_COLS - 4;
    if (t.f) csv_free(&t);
    gm_test_check(c, ok, "empty audit: CSVs hold only their header (without region columns)");
    char *path = join(dir, "audit.h5");
    hid_t f = path ? h5_open(path) : -1;
    int rank = 0;
    hsize_t dims[8];
    float *m = f >= 0 ? h5_read(f, "images/map", H5T_NATIVE_FLOAT, sizeof *m, &rank, dims) : NULL;
    ok = m && shape_is(rank, dims, 3, 0, MAP_H, MAP_W) && H5Lexists(f, "images/path", H5P_DEFAULT) > 0 &&
         H5Lexists(f, "images/regions", H5P_DEFAULT) == 0 && H5Lexists(f, "classes/region_mean", H5P_DEFAULT) == 0 &&
         H5Lexists(f, "clusters/mean_map", H5P_DEFAULT) > 0;
    free(m);
    double *e = f >= 0 ? h5_read(f, "classes/eigenvalues", H5T_NATIVE_DOUBLE, sizeof *e, &rank, dims) : NULL;
    ok = ok && e && shape_is(rank, dims, 2, 0, 0, 0);
    free(e);
    if (f >= 0) H5Fclose(f);
    gm_test_check(c, ok, "empty audit: /images/map is (0, %d, %d), region datasets omitted", MAP_H, MAP_W);
    remove_outputs(dir);
    rmdir(dir);
    free(path);
    free(dir);
}

static int same_bytes(const char *path, const char *want, size_t want_len) {
    size_t len = 0;
    char *got = slurp(path, &len);
    int ok = got && len == want_len && memcmp(got, want, len) == 0;
    free(got);
    return ok;
}

static void check_failures(gm_test_counts *c, const gm_audit *a, const char *base) {
    /* A folder that does not exist: nothing is created, not even the folder. */
    char *missing = join(base, "missing");
    int before = dir_entries(base);
    gm_status s1 = gm_audit_write_csv(a, missing);
    char m1[512];
    snprintf(m1, sizeof m1, "%s", gm_last_error());
    gm_status s2 = gm_audit_write_h5(a, missing);
    char m2[512];
    snprintf(m2, sizeof m2, "%s", gm_last_error());
    gm_test_check(c,
                  s1 == GM_ERR_IO && s2 == GM_ERR_IO && strstr(m1, "missing/images.csv") &&
                      strstr(m2, "missing/audit.h5") && strstr(m2, strerror(ENOENT)) && access(missing, F_OK) != 0 &&
                      dir_entries(base) == before,
                  "missing DIR: GM_ERR_IO naming the file, nothing created: \"%s\" / \"%s\"", m1, m2);

    /* A "folder" that is a regular file: refused, the file untouched. */
    char *plain = join(base, "plain");
    FILE *pf = plain ? fopen(plain, "w") : NULL;
    int made = pf && fputs("not a folder\n", pf) >= 0;
    if (pf && fclose(pf) != 0) made = 0;
    s1 = gm_audit_write_csv(a, plain);
    snprintf(m1, sizeof m1, "%s", gm_last_error());
    s2 = gm_audit_write_h5(a, plain);
    snprintf(m2, sizeof m2, "%s", gm_last_error());
    gm_test_check(c,
                  made && s1 == GM_ERR_IO && s2 == GM_ERR_IO && strstr(m1, "plain/images.csv") &&
                      strstr(m1, strerror(ENOTDIR)) && strstr(m2, "plain/audit.h5") &&
                      same_bytes(plain, "not a folder\n", 13) && dir_entries(base) == before + 1,
                  "DIR is a regular file: GM_ERR_IO, the file untouched: \"%s\" / \"%s\"", m1, m2);
    if (plain) remove(plain);

    /* A full disk, simulated by a file-size limit (EFBIG) below every output's size: the writes fail
     * with GM_ERR_IO, the earlier complete files survive byte for byte, no temporary file remains. */
    char *full = join(base, "full");
    int ok = full && mkdir(full, 0700) == 0 && gm_audit_write_csv(a, full) == GM_OK && gm_audit_write_h5(a, full) == GM_OK;
    char *p_img = full ? join(full, "images.csv") : NULL, *p_cls = full ? join(full, "classes.csv") : NULL;
    char *p_h5 = full ? join(full, "audit.h5") : NULL;
    size_t l_img = 0, l_cls = 0, l_h5 = 0;
    char *old_img = ok && p_img ? slurp(p_img, &l_img) : NULL, *old_cls = ok && p_cls ? slurp(p_cls, &l_cls) : NULL;
    char *old_h5 = ok && p_h5 ? slurp(p_h5, &l_h5) : NULL;
    ok = ok && old_img && old_cls && old_h5 && l_img > 256 && l_cls > 256 && l_h5 > 256;
    struct rlimit old;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    if (ok && getrlimit(RLIMIT_FSIZE, &old) == 0) {
        struct rlimit small = old;
        small.rlim_cur = 256;
        ok = setrlimit(RLIMIT_FSIZE, &small) == 0;
        s1 = gm_audit_write_csv(a, full);
        snprintf(m1, sizeof m1, "%s", gm_last_error());
        s2 = gm_audit_write_h5(a, full);
        snprintf(m2, sizeof m2, "%s", gm_last_error());
        ok = setrlimit(RLIMIT_FSIZE, &old) == 0 && ok;
        ok = ok && s1 == GM_ERR_IO && s2 == GM_ERR_IO && strstr(m1, "full/images.csv") &&
             strstr(m1, strerror(EFBIG)) && strstr(m2, "full/audit.h5") && strstr(m2, strerror(EFBIG)) && same_bytes(p_img, old_img, l_img) &&
             same_bytes(p_cls, old_cls, l_cls) && same_bytes(p_h5, old_h5, l_h5) && no_temp_files(full) &&
             dir_entries(full) == 3;
        gm_test_check(c, ok, "full disk: GM_ERR_IO, earlier files intact, no temporary file: \"%s\" / \"%s\"", m1, m2);
    } else {
        gm_test_check(c, 0, "full disk: setup (first write or getrlimit) failed: %s", gm_last_error());
    }
    signal(SIGXFSZ, old_handler);
    /* ... and into an empty folder: no final file appears at all. */
    if (full) remove_outputs(full);
    if (ok && setrlimit(RLIMIT_FSIZE, &(struct rlimit){256, old.rlim_max}) == 0) {
        signal(SIGXFSZ, SIG_IGN);
        s1 = gm_audit_write_csv(a, full);
        s2 = gm_audit_write_h5(a, full);
        ok = setrlimit(RLIMIT_FSIZE, &old) == 0;
        signal(SIGXFSZ, old_handler);
        gm_test_check(c, ok && s1 == GM_ERR_IO && s2 == GM_ERR_IO && dir_entries(full) == 0,
                      "full disk into an empty DIR: GM_ERR_IO, the folder stays empty");
    }
    free(old_img);
    free(old_cls);
    free(old_h5);
    if (full) {
        remove_outputs(full);
        rmdir(full);
    }

    /* Invalid audits are refused before any file is touched. */
    gm_audit bad = *a;
    gm_audit_image imgs[N_IMAGES];
    memcpy(imgs, a->images, sizeof imgs);
    imgs[2].cls = 7;
    bad.images = imgs;
    before = dir_entries(base);
    s1 = gm_audit_write_csv(&bad, base);
    s2 = gm_audit_write_h5(&bad, base);
    gm_status s3 = gm_audit_write_csv(NULL, base), s4 = gm_audit_write_h5(a, NULL);
    gm_test_check(c,
                  s1 == GM_ERR_INVALID_ARG && s2 == GM_ERR_INVALID_ARG && s3 == GM_ERR_INVALID_ARG &&
                      s4 == GM_ERR_INVALID_ARG && dir_entries(base) == before,
                  "a class index out of range or a NULL argument is GM_ERR_INVALID_ARG, nothing written");
    free(missing);
    free(plain);
    free(full);
    free(p_img);
    free(p_cls);
    free(p_h5);
}

int main(void) {
    gm_test_counts c = {0, 0};
    char dir[] = "/tmp/gm_test_audit_write_XXXXXX";
    if (!mkdtemp(dir)) {
        gm_test_check(&c, 0, "mkdtemp: %s", strerror(errno));
        return gm_test_summary(&c);
    }
    gm_audit a;
    int built = build_audit(&a);
    gm_test_check(&c, built, "synthetic audit built");
    if (built) {
        char *out = join(dir, "out");
        if (out && mkdir(out, 0700) == 0) {
            check_csv(&c, &a, out);
            check_h5(&c, &a, out);
            gm_test_check(&c, dir_entries(out) == 3, "out: exactly images.csv, classes.csv, audit.h5 (%d entries)",
                          dir_entries(out));
            remove_outputs(out);
            rmdir(out);
        } else {
            gm_test_check(&c, 0, "mkdir out");
        }
        free(out);
        check_empty(&c, dir);
        check_failures(&c, &a, dir);
    }
    gm_audit_free(&a);
    gm_test_check(&c, rmdir(dir) == 0, "the temporary folder is left empty (%s)", dir);
    return gm_test_summary(&c);
}
