/* audit_dataset.c — lists the labelled dataset of `gradmap audit`: class folders or a CSV, object
 * masks and boxes (formats in audit_dataset.h). Per-item problems are recorded on the item so the
 * audit goes on with what is valid. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "audit_dataset.h"
#include "cli.h"

#define GM_CSV_MAX_FIELDS 16

/* ---- RFC 4180 records ---- */

typedef struct gm_field_buf {
    char *s;
    size_t len, cap;
} gm_field_buf;

static int gm_field_put(gm_field_buf *b, int ch) {
    if (b->len + 1 >= b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 64;
        char *grown = realloc(b->s, cap);
        if (!grown) return 0;
        b->s = grown, b->cap = cap;
    }
    b->s[b->len++] = (char)ch;
    b->s[b->len] = '\0';
    return 1;
}

void gm_csv_fields_free(char **fields, int n) {
    for (int i = 0; i < n; ++i) free(fields[i]), fields[i] = NULL;
}

int gm_csv_read_record(FILE *f, char **fields, int max_fields) {
    int n = 0, ch = fgetc(f), quoted = 0, overflow = 0;
    if (ch == EOF) return 0;
    gm_field_buf b = {0};
    for (;;) {
        if (quoted) {
            if (ch == EOF) break; /* an unterminated quote ends the record */
            if (ch == '"') {
                int next = fgetc(f);
                if (next != '"') {
                    quoted = 0, ch = next;
                    continue;
                }
            }
            if (!gm_field_put(&b, ch)) goto fail;
        } else if (ch == '"' && b.len == 0) {
            quoted = 1;
        } else if (ch == ',' || ch == '\n' || ch == EOF) {
            if (n < max_fields) {
                fields[n++] = b.s ? b.s : calloc(1, 1);
                if (!fields[n - 1]) goto fail;
            } else {
                overflow = 1;
                free(b.s);
            }
            memset(&b, 0, sizeof b);
            if (ch != ',') break;
        } else if (ch != '\r') {
            if (!gm_field_put(&b, ch)) goto fail;
        }
        ch = fgetc(f);
    }
    if (overflow) {
        gm_csv_fields_free(fields, n);
        return -1;
    }
    return n;
fail:
    free(b.s);
    gm_csv_fields_free(fields, n);
    return -1;
}

/* ---- the dataset ---- */

static int gm_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int gm_is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static gm_status gm_add_label(gm_audit_dataset *d, const char *label, int *index) {
    for (int i = 0; i < d->n_labels; ++i)
        if (!strcmp(d->labels[i], label)) {
            *index = i;
            return GM_OK;
        }
    char **grown = realloc(d->labels, (size_t)(d->n_labels + 1) * sizeof *grown);
    if (!grown) return gm_error(GM_ERR_NOMEM, "out of memory listing labels");
    d->labels = grown;
    if (!(d->labels[d->n_labels] = gm_cli_strdup(label))) return gm_error(GM_ERR_NOMEM, "out of memory listing labels");
    *index = d->n_labels++;
    return GM_OK;
}

static gm_status gm_add_item(gm_audit_dataset *d, const char *path, const char *listed, int cls, gm_audit_item **out) {
    if (d->n_items % 256 == 0) {
        gm_audit_item *grown = realloc(d->items, (size_t)(d->n_items + 256) * sizeof *grown);
        if (!grown) return gm_error(GM_ERR_NOMEM, "out of memory listing %d images", d->n_items);
        d->items = grown;
    }
    gm_audit_item *it = &d->items[d->n_items];
    memset(it, 0, sizeof *it);
    it->cls = cls;
    it->path = gm_cli_strdup(path);
    it->listed = gm_cli_strdup(listed);
    if (!it->path || !it->listed) {
        free(it->path), free(it->listed);
        return gm_error(GM_ERR_NOMEM, "out of memory listing images");
    }
    ++d->n_items;
    *out = it;
    return GM_OK;
}

static int gm_cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Folder mode: every sub-folder of `data` is a class; its images (recursive, sorted) its items. */
static gm_status gm_list_folders(const char *data, int quiet, gm_audit_dataset *d) {
    DIR *dir = opendir(data);
    if (!dir) return gm_error(GM_ERR_IO, "%s: cannot open folder: %s", data, strerror(errno));
    char **names = NULL;
    int n = 0, cap = 0;
    gm_status st = GM_OK;
    for (struct dirent *e; st == GM_OK && (e = readdir(dir));) {
        if (e->d_name[0] == '.') continue;
        char *full = gm_cli_printf("%s/%s", data, e->d_name);
        if (!full) {
            st = gm_error(GM_ERR_NOMEM, "out of memory listing %s", data);
        } else if (!gm_is_dir(full)) {
            if (!quiet) fprintf(stderr, "gradmap: warning: %s is not in a class folder; ignored\n", full);
            ++d->n_warnings;
        } else {
            char **grown = n < cap ? names : realloc(names, (size_t)(cap = cap ? 2 * cap : 16) * sizeof *grown);
            if (grown) names = grown;
            if (!grown || !(names[n] = gm_cli_strdup(e->d_name))) st = gm_error(GM_ERR_NOMEM, "out of memory listing %s", data);
            else ++n;
        }
        free(full);
    }
    closedir(dir);
    if (st == GM_OK && n > 1) qsort(names, (size_t)n, sizeof *names, gm_cmp_str);
    for (int c = 0; c < n && st == GM_OK; ++c) {
        int cls;
        st = gm_add_label(d, names[c], &cls);
        char *folder = st == GM_OK ? gm_cli_printf("%s/%s", data, names[c]) : NULL;
        gm_path_list images = {0};
        if (st == GM_OK && !folder) st = gm_error(GM_ERR_NOMEM, "out of memory listing %s", data);
        if (st == GM_OK) {
            st = gm_cli_expand_inputs(&folder, 1, &images);
            /* An empty class folder is a class without images (reported per class), not an error;
             * gm_cli_expand_inputs says "no images found" with GM_ERR_INVALID_ARG. */
            if (st == GM_ERR_INVALID_ARG) st = GM_OK, gm_clear_error();
        }
        size_t skip = strlen(data) + 1;
        for (int i = 0; st == GM_OK && i < images.count; ++i) {
            gm_audit_item *it;
            st = gm_add_item(d, images.paths[i], images.paths[i] + skip, cls, &it);
        }
        gm_path_list_free(&images);
        free(folder);
    }
    for (int c = 0; c < n; ++c) free(names[c]);
    free(names);
    return st;
}

/* The folder of a file path ("." when it has none), malloc'd. */
static char *gm_dirname(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return gm_cli_strdup(".");
    size_t len = (size_t)(slash - path);
    char *d = malloc(len + 2);
    if (!d) return NULL;
    memcpy(d, path, len ? len : 1);
    d[len ? len : 1] = '\0';
    return d;
}

static char *gm_resolve(const char *base, const char *path) {
    return path[0] == '/' ? gm_cli_strdup(path) : gm_cli_printf("%s/%s", base, path);
}

static char *gm_trim(char *s) {
    while (*s == ' ' || *s == '\t') ++s;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = '\0';
    return s;
}

/* "x0,y0,x1,y1" from 4 fields; 0 on a field that is not an integer. */
static int gm_parse_box(char **f, gm_audit_rect *box) {
    long v[4];
    for (int i = 0; i < 4; ++i) {
        char *end = NULL, *t = gm_trim(f[i]);
        errno = 0;
        v[i] = strtol(t, &end, 10);
        if (errno || end == t || *end || v[i] < -1000000000L || v[i] > 1000000000L) return 0;
    }
    box->x0 = (int)v[0], box->y0 = (int)v[1], box->x1 = (int)v[2], box->y1 = (int)v[3];
    return 1;
}

static gm_status gm_item_add_box(gm_audit_item *it, const gm_audit_rect *box) {
    gm_audit_rect *grown = realloc(it->boxes, (size_t)(it->n_boxes + 1) * sizeof *grown);
    if (!grown) return gm_error(GM_ERR_NOMEM, "out of memory for boxes");
    it->boxes = grown;
    it->boxes[it->n_boxes++] = *box;
    return GM_OK;
}

/* Items sorted by their listed path (ties: listing order), for merging and lookups. */
static int gm_cmp_listed(const void *x, const void *y, void *ctx) {
    const gm_audit_item *items = ctx;
    int i = *(const int *)x, j = *(const int *)y, c = strcmp(items[i].listed, items[j].listed);
    return c ? c : (i > j) - (i < j);
}

/* Merge sort with a context (qsort_r is not C11). */
static void gm_sort_listed(int *idx, int *tmp, int n, const gm_audit_item *items) {
    if (n < 2) return;
    int h = n / 2;
    gm_sort_listed(idx, tmp, h, items);
    gm_sort_listed(idx + h, tmp, n - h, items);
    int a = 0, b = h, k = 0;
    while (a < h || b < n)
        tmp[k++] = (b >= n || (a < h && gm_cmp_listed(&idx[a], &idx[b], (void *)items) <= 0)) ? idx[a++] : idx[b++];
    memcpy(idx, tmp, (size_t)n * sizeof *idx);
}

static int *gm_listed_index(const gm_audit_dataset *d) {
    int *idx = malloc((size_t)(d->n_items ? d->n_items : 1) * sizeof *idx);
    int *tmp = malloc((size_t)(d->n_items ? d->n_items : 1) * sizeof *tmp);
    if (idx && tmp) {
        for (int i = 0; i < d->n_items; ++i) idx[i] = i;
        gm_sort_listed(idx, tmp, d->n_items, d->items);
    }
    free(tmp);
    if (!tmp) free(idx);
    return tmp ? idx : NULL;
}

/* The first item listed as `listed`, by binary search over a gm_listed_index. */
static gm_audit_item *gm_find_listed(gm_audit_dataset *d, const int *idx, const char *listed) {
    int lo = 0, hi = d->n_items;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (strcmp(d->items[idx[mid]].listed, listed) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo < d->n_items && !strcmp(d->items[idx[lo]].listed, listed) ? &d->items[idx[lo]] : NULL;
}

static void gm_set_error(gm_audit_item *it, char *message) {
    if (!it->error) it->error = message;
    else free(message);
}

/* One data row of the CSV (fields already split): path,label[,mask][,x0,y0,x1,y1]. Every row becomes
 * an item; rows naming the same image are merged afterwards (gm_merge_rows). */
static gm_status gm_csv_row(gm_audit_dataset *d, const char *csv, const char *base, const char *mask_base, long row,
                            char **f, int n) {
    char *path = gm_trim(f[0]), *label = n > 1 ? gm_trim(f[1]) : "";
    char where[64];
    snprintf(where, sizeof where, "row %ld", row);
    int cls;
    GM_TRY(gm_add_label(d, label[0] ? label : "(no label)", &cls));
    char *resolved = gm_resolve(base, path[0] ? path : where);
    if (!resolved) return gm_error(GM_ERR_NOMEM, "out of memory reading %s", csv);
    gm_audit_item *it = NULL;
    gm_status st = gm_add_item(d, resolved, path[0] ? path : where, cls, &it);
    free(resolved);
    GM_TRY(st);
    if (!path[0]) gm_set_error(it, gm_cli_printf("%s %s: empty path", csv, where));
    else if (!label[0]) gm_set_error(it, gm_cli_printf("%s %s: empty label", csv, where));
    else if (n != 2 && n != 3 && n != 6 && n != 7)
        gm_set_error(it, gm_cli_printf("%s %s: %d fields; expected path,label[,mask][,x0,y0,x1,y1]", csv, where, n));
    if (it->error) return GM_OK;
    if ((n == 3 || n == 7) && gm_trim(f[2])[0]) {
        it->mask_path = gm_resolve(mask_base, gm_trim(f[2]));
        if (!it->mask_path) return gm_error(GM_ERR_NOMEM, "out of memory reading %s", csv);
        d->has_annotations = 1;
    }
    if (n >= 6) {
        gm_audit_rect box;
        if (!gm_parse_box(f + n - 4, &box))
            gm_set_error(it, gm_cli_printf("%s %s: the box '%s,%s,%s,%s' is not four integers", csv, where, f[n - 4],
                                             f[n - 3], f[n - 2], f[n - 1]));
        else GM_TRY(gm_item_add_box(it, &box));
        d->has_annotations = 1;
    }
    return GM_OK;
}

static void gm_item_free(gm_audit_item *it) {
    free(it->path), free(it->listed), free(it->mask_path), free(it->boxes), free(it->error), free(it->note);
}

/* Rows naming an image again add their boxes (and mask) to its first row's item; a row giving
 * another label, or a bad row, becomes an error on the image. The items keep the listing order. */
static gm_status gm_merge_rows(gm_audit_dataset *d, const char *csv) {
    int *idx = gm_listed_index(d);
    char *drop = calloc((size_t)(d->n_items ? d->n_items : 1), 1);
    gm_status st = idx && drop ? GM_OK : gm_error(GM_ERR_NOMEM, "out of memory reading %s", csv);
    for (int g = 0; st == GM_OK && g < d->n_items;) {
        int e = g + 1;
        while (e < d->n_items && !strcmp(d->items[idx[e]].listed, d->items[idx[g]].listed)) ++e;
        gm_audit_item *first = &d->items[idx[g]];
        for (int j = g + 1; st == GM_OK && j < e; ++j) {
            gm_audit_item *dup = &d->items[idx[j]];
            drop[idx[j]] = 1;
            if (dup->cls != first->cls)
                gm_set_error(first, gm_cli_printf("%s: %s lists it with label '%s' and also '%s'", first->listed, csv,
                                                    d->labels[first->cls], d->labels[dup->cls]));
            if (dup->error) gm_set_error(first, dup->error), dup->error = NULL;
            for (int b = 0; st == GM_OK && b < dup->n_boxes; ++b) st = gm_item_add_box(first, &dup->boxes[b]);
            if (dup->mask_path && !first->mask_path) first->mask_path = dup->mask_path, dup->mask_path = NULL;
        }
        g = e;
    }
    int kept = 0;
    for (int i = 0; st == GM_OK && i < d->n_items; ++i) {
        if (drop[i]) gm_item_free(&d->items[i]);
        else d->items[kept++] = d->items[i];
    }
    if (st == GM_OK) d->n_items = kept;
    free(idx), free(drop);
    return st;
}

static int gm_is_header(char **f, int n, const char *first) { return n >= 1 && !strcasecmp(gm_trim(f[0]), first); }

static gm_status gm_list_csv(const char *csv, const char *masks, gm_audit_dataset *d) {
    FILE *fp = fopen(csv, "r");
    if (!fp) return gm_error(GM_ERR_IO, "%s: cannot open: %s", csv, strerror(errno));
    char *base = gm_dirname(csv);
    gm_status st = base ? GM_OK : gm_error(GM_ERR_NOMEM, "out of memory");
    char *f[GM_CSV_MAX_FIELDS];
    for (long row = 1; st == GM_OK; ++row) {
        int n = gm_csv_read_record(fp, f, GM_CSV_MAX_FIELDS);
        if (n == 0) break;
        if (n < 0) {
            st = gm_error(GM_ERR_FORMAT, "%s row %ld: more than %d fields, or out of memory", csv, row, GM_CSV_MAX_FIELDS);
            break;
        }
        int blank = n == 1 && !gm_trim(f[0])[0];
        if (!blank && !(row == 1 && gm_is_header(f, n, "path")))
            st = gm_csv_row(d, csv, base, masks ? masks : base, row, f, n);
        gm_csv_fields_free(f, n);
    }
    if (st == GM_OK && ferror(fp)) st = gm_error(GM_ERR_IO, "%s: read error", csv);
    fclose(fp);
    free(base);
    return st == GM_OK ? gm_merge_rows(d, csv) : st;
}

/* Folder mode: the mask of DATA/<label>/<rel> is MASKS/<label>/<rel stem>.png, else MASKS/<label>/<rel>. */
static gm_status gm_find_masks(gm_audit_dataset *d, const char *masks) {
    for (int i = 0; i < d->n_items; ++i) {
        gm_audit_item *it = &d->items[i];
        char *png = gm_cli_printf("%s/%s", masks, it->listed), *same = gm_cli_printf("%s/%s", masks, it->listed);
        if (!png || !same) {
            free(png), free(same);
            return gm_error(GM_ERR_NOMEM, "out of memory looking for masks");
        }
        char *dot = strrchr(png, '.'), *slash = strrchr(png, '/');
        if (dot && (!slash || dot > slash)) strcpy(dot, ".png");
        if (gm_is_file(png)) it->mask_path = png, png = NULL;
        else if (gm_is_file(same)) it->mask_path = same, same = NULL;
        else it->note = gm_cli_printf("no mask at %s: object metrics not computed", png);
        free(png), free(same);
    }
    return GM_OK;
}

static gm_status gm_read_boxes(gm_audit_dataset *d, const char *boxes, int quiet) {
    FILE *fp = fopen(boxes, "r");
    if (!fp) return gm_error(GM_ERR_IO, "%s: cannot open: %s", boxes, strerror(errno));
    int *idx = gm_listed_index(d);
    gm_status st = idx ? GM_OK : gm_error(GM_ERR_NOMEM, "out of memory reading %s", boxes);
    char *f[GM_CSV_MAX_FIELDS];
    for (long row = 1; st == GM_OK; ++row) {
        int n = gm_csv_read_record(fp, f, GM_CSV_MAX_FIELDS);
        if (n == 0) break;
        if (n < 0) {
            st = gm_error(GM_ERR_FORMAT, "%s row %ld: too many fields, or out of memory", boxes, row);
            break;
        }
        int blank = n == 1 && !gm_trim(f[0])[0];
        if (!blank && !(row == 1 && gm_is_header(f, n, "path"))) {
            gm_audit_item *it = n == 5 ? gm_find_listed(d, idx, gm_trim(f[0])) : NULL;
            gm_audit_rect box;
            if (n != 5) {
                if (!quiet) fprintf(stderr, "gradmap: warning: %s row %ld: %d fields, expected path,x0,y0,x1,y1; ignored\n", boxes, row, n);
                ++d->n_warnings;
            } else if (!it) {
                if (!quiet) fprintf(stderr, "gradmap: warning: %s row %ld: '%s' is not an image of the dataset; ignored\n", boxes, row, f[0]);
                ++d->n_warnings;
            } else if (!gm_parse_box(f + 1, &box)) {
                gm_set_error(it, gm_cli_printf("%s row %ld: the box '%s,%s,%s,%s' is not four integers", boxes, row,
                                                 f[1], f[2], f[3], f[4]));
            } else {
                st = gm_item_add_box(it, &box);
            }
        }
        gm_csv_fields_free(f, n);
    }
    if (st == GM_OK && ferror(fp)) st = gm_error(GM_ERR_IO, "%s: read error", boxes);
    fclose(fp);
    free(idx);
    return st;
}

static int gm_ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcasecmp(s + n - m, suffix);
}

gm_status gm_audit_dataset_load(const char *data, const char *masks, const char *boxes, int quiet,
                                gm_audit_dataset *out) {
    memset(out, 0, sizeof *out);
    gm_status st;
    int folder = gm_is_dir(data);
    if (masks && !gm_is_dir(masks)) return gm_error(GM_ERR_IO, "--masks %s: no such folder", masks);
    if (folder) st = gm_list_folders(data, quiet, out);
    else if (gm_ends_with(data, ".csv")) st = gm_list_csv(data, masks, out);
    else if (!gm_is_file(data)) st = gm_error(GM_ERR_IO, "%s: no such folder or file", data);
    else st = gm_error(GM_ERR_INVALID_ARG, "%s: the dataset must be a folder of class folders or a .csv file", data);
    if (st == GM_OK && folder && masks) {
        out->has_annotations = 1;
        st = gm_find_masks(out, masks);
    }
    if (st == GM_OK && boxes) {
        out->has_annotations = 1;
        st = gm_read_boxes(out, boxes, quiet);
    }
    if (st == GM_OK && out->n_labels == 0)
        st = gm_error(GM_ERR_NOT_FOUND, "%s: no class %s", data, folder ? "folders" : "rows");
    if (st != GM_OK) gm_audit_dataset_free(out);
    return st;
}

void gm_audit_dataset_free(gm_audit_dataset *d) {
    for (int i = 0; d->items && i < d->n_items; ++i) gm_item_free(&d->items[i]);
    for (int i = 0; d->labels && i < d->n_labels; ++i) free(d->labels[i]);
    free(d->items);
    free(d->labels);
    memset(d, 0, sizeof *d);
}
