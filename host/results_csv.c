/* results_csv.c — DIR/summary.csv (columns in results.h): one row per (image, target class), one
 * row per failed image; RFC 4180 quoting; numbers printed in the C locale with %.7g (float32's
 * precision; results.h5 keeps the exact values). The file is written with pwrite at the length
 * recorded in results.h5 and fsync'd before the batch commits, so bytes past that length are
 * always a batch that never committed: resume cuts them off. If summary.csv is missing, shorter
 * than recorded, or does not end a row at the recorded length, it is rebuilt from results.h5. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "results_internal.h"

#define GM_CSV_HEADER \
    "path,width,height,status,top1,top1_name,top1_prob,target_class,target_name,target_logit,error\n"
#define GM_CSV_REBUILD_ROWS 1024

size_t gm_results_csv_field(const char *text, char *out, size_t cap) {
    const char *s = text ? text : "";
    int quote = strpbrk(s, ",\"\r\n") != NULL;
    size_t need = 0;
#define GM_CSV_PUT(ch)                        \
    do {                                      \
        if (need + 1 < cap) out[need] = (ch); \
        ++need;                               \
    } while (0)
    if (quote) GM_CSV_PUT('"');
    for (; *s; ++s) {
        if (*s == '"') GM_CSV_PUT('"');
        GM_CSV_PUT(*s);
    }
    if (quote) GM_CSV_PUT('"');
#undef GM_CSV_PUT
    if (cap > 0) out[need < cap ? need : cap - 1] = '\0';
    return need;
}

typedef struct gm_csv_buf {
    char *text;
    size_t len, cap;
    int failed;
} gm_csv_buf;

static void gm_csv_reserve(gm_csv_buf *b, size_t more) {
    if (b->failed || b->len + more + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more + 1) cap *= 2;
    char *grown = realloc(b->text, cap);
    if (!grown) {
        b->failed = 1;
        return;
    }
    b->text = grown;
    b->cap = cap;
}

static void gm_csv_text(gm_csv_buf *b, const char *s) {
    size_t need = gm_results_csv_field(s, NULL, 0);
    gm_csv_reserve(b, need + 1);
    if (b->failed) return;
    gm_results_csv_field(s, b->text + b->len, need + 1);
    b->len += need;
}

static void gm_csv_raw(gm_csv_buf *b, const char *s) {
    size_t n = strlen(s);
    gm_csv_reserve(b, n);
    if (b->failed) return;
    memcpy(b->text + b->len, s, n + 1);
    b->len += n;
}

static const char *gm_csv_name(const gm_results *r, int cls) {
    return r->class_names && cls >= 0 && cls < r->n_classes && r->class_names[cls] ? r->class_names[cls] : "";
}

gm_status gm_results_csv_format(const gm_results *r, const gm_results_batch *b, char **text, size_t *len) {
    gm_csv_buf buf = {0};
    char num[64];
    for (int i = 0; i < b->n; ++i) {
        int rows = b->status[i] ? r->n_targets : 1;
        for (int t = 0; t < rows; ++t) {
            gm_csv_text(&buf, b->paths[i]);
            snprintf(num, sizeof num, ",%d,%d,%s,", b->widths[i], b->heights[i], b->status[i] ? "ok" : "error");
            gm_csv_raw(&buf, num);
            if (b->status[i]) {
                int top1 = b->topk_class[(size_t)i * r->top_k];
                int target = b->target_class[(size_t)i * r->n_targets + t];
                snprintf(num, sizeof num, "%d,", top1);
                gm_csv_raw(&buf, num);
                gm_csv_text(&buf, gm_csv_name(r, top1));
                snprintf(num, sizeof num, ",%.7g,%d,", b->topk_prob[(size_t)i * r->top_k], target);
                gm_csv_raw(&buf, num);
                gm_csv_text(&buf, gm_csv_name(r, target));
                snprintf(num, sizeof num, ",%.7g,\n", b->target_logit[(size_t)i * r->n_targets + t]);
                gm_csv_raw(&buf, num);
            } else {
                gm_csv_raw(&buf, ",,,,,,");
                gm_csv_text(&buf, b->errors && b->errors[i] ? b->errors[i] : "unknown error");
                gm_csv_raw(&buf, "\n");
            }
        }
    }
    if (buf.failed) {
        free(buf.text);
        return gm_error(GM_ERR_NOMEM, "%s: out of memory formatting rows", r->csv_path);
    }
    *text = buf.text;
    *len = buf.len;
    return GM_OK;
}

gm_status gm_results_csv_write(gm_results *r, const char *text, size_t len) {
    off_t off = (off_t)r->csv_bytes;
    while (len > 0) {
        ssize_t w = pwrite(r->csv_fd, text, len, off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return gm_error(GM_ERR_IO, "%s: cannot write (%s)", r->csv_path, strerror(w ? errno : ENOSPC));
        text += w;
        len -= (size_t)w;
        off += w;
    }
    if (!r->no_fsync && fsync(r->csv_fd) != 0)
        return gm_error(GM_ERR_IO, "%s: cannot sync (%s)", r->csv_path, strerror(errno));
    return GM_OK;
}

gm_status gm_results_csv_create(gm_results *r, long long *bytes) {
    if (r->csv_fd >= 0) close(r->csv_fd);
    r->csv_fd = open(r->csv_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (r->csv_fd < 0) return gm_error(GM_ERR_IO, "%s: cannot create (%s)", r->csv_path, strerror(errno));
    r->csv_bytes = 0;
    GM_TRY(gm_results_csv_write(r, GM_CSV_HEADER, strlen(GM_CSV_HEADER)));
    *bytes = (long long)strlen(GM_CSV_HEADER);
    return GM_OK;
}

/* 1 when the existing file can simply be cut at r->csv_bytes: it starts with our header and the
 * recorded length ends a row. */
static int gm_csv_cuttable(const gm_results *r, off_t size) {
    size_t hl = strlen(GM_CSV_HEADER);
    if (r->csv_bytes < (long long)hl || size < (off_t)r->csv_bytes) return 0;
    char head[sizeof GM_CSV_HEADER];
    char last = 0;
    if (pread(r->csv_fd, head, hl, 0) != (ssize_t)hl || memcmp(head, GM_CSV_HEADER, hl) != 0) return 0;
    if (pread(r->csv_fd, &last, 1, (off_t)r->csv_bytes - 1) != 1) return 0;
    return last == '\n';
}

/* Rewrites summary.csv from the rows of results.h5, a block of rows at a time. */
static gm_status gm_csv_rebuild(gm_results *r) {
    long long bytes = 0;
    GM_TRY(gm_results_csv_create(r, &bytes));
    r->csv_bytes = bytes;
    long long m = r->n_errors, k = r->top_k, t = r->n_targets;
    long long *eidx = malloc(sizeof *eidx * (size_t)(m + 1));
    char **emsg = calloc((size_t)m + 1, sizeof *emsg);
    const long long B = GM_CSV_REBUILD_ROWS;
    char **paths = calloc((size_t)B, sizeof *paths);
    const char **errors = calloc((size_t)B, sizeof *errors);
    int *w = malloc(sizeof *w * (size_t)B), *h = malloc(sizeof *h * (size_t)B), *status = malloc(sizeof *status * (size_t)B);
    int *tkc = malloc(sizeof *tkc * (size_t)(B * k)), *tgc = malloc(sizeof *tgc * (size_t)(B * t));
    float *tkp = malloc(sizeof *tkp * (size_t)(B * k)), *tgl = malloc(sizeof *tgl * (size_t)(B * t));
    gm_status st = GM_OK;
    if (!eidx || !emsg || !paths || !errors || !w || !h || !status || !tkc || !tgc || !tkp || !tgl)
        st = gm_error(GM_ERR_NOMEM, "%s: out of memory rebuilding it", r->csv_path);
    if (st == GM_OK) st = gm_results_h5_read_rows(r->d_err_index, H5T_NATIVE_LLONG, 0, m, 1, eidx);
    if (st == GM_OK) st = gm_results_h5_read_strings(r->d_err_message, 0, m, emsg);
    long long e = 0;
    for (long long start = 0; st == GM_OK && start < r->n_images; start += B) {
        long long n = r->n_images - start < B ? r->n_images - start : B;
        st = gm_results_h5_read_strings(r->d_path, start, n, paths);
        if (st == GM_OK) st = gm_results_h5_read_rows(r->d_width, H5T_NATIVE_INT, start, n, 1, w);
        if (st == GM_OK) st = gm_results_h5_read_rows(r->d_height, H5T_NATIVE_INT, start, n, 1, h);
        if (st == GM_OK) st = gm_results_h5_read_rows(r->d_status, H5T_NATIVE_INT, start, n, 1, status);
        if (st == GM_OK) st = gm_results_h5_read_rows(r->d_topk_class, H5T_NATIVE_INT, start, n, k, tkc);
        if (st == GM_OK) st = gm_results_h5_read_rows(r->d_topk_prob, H5T_NATIVE_FLOAT, start, n, k, tkp);
        if (st == GM_OK) st = gm_results_h5_read_rows(r->d_target_class, H5T_NATIVE_INT, start, n, t, tgc);
        if (st == GM_OK) st = gm_results_h5_read_rows(r->d_target_logit, H5T_NATIVE_FLOAT, start, n, t, tgl);
        for (long long i = 0; st == GM_OK && i < n; ++i) {
            while (e < m && eidx[e] < start + i) ++e;
            errors[i] = e < m && eidx[e] == start + i ? emsg[e] : NULL;
        }
        if (st == GM_OK) {
            gm_results_batch b = {.n = (int)n, .paths = (const char *const *)paths, .widths = w, .heights = h,
                                  .status = status, .errors = errors, .topk_class = tkc, .topk_prob = tkp,
                                  .target_class = tgc, .target_logit = tgl};
            char *text = NULL;
            size_t len = 0;
            st = gm_results_csv_format(r, &b, &text, &len);
            if (st == GM_OK) st = gm_results_csv_write(r, text, len);
            if (st == GM_OK) r->csv_bytes += (long long)len;
            free(text);
        }
        for (long long i = 0; paths && i < n; ++i) free(paths[i]), paths[i] = NULL;
    }
    if (st != GM_OK && st != GM_ERR_NOMEM && st != GM_ERR_IO)
        st = gm_error_context(st, "%s: rebuilding it from results.h5: ", r->csv_path);
    if (emsg) gm_results_free_strings(&emsg, m);
    free(eidx), free(paths), free(errors), free(w), free(h), free(status), free(tkc), free(tgc), free(tkp), free(tgl);
    return st;
}

gm_status gm_results_csv_resume(gm_results *r) {
    r->csv_fd = open(r->csv_path, O_RDWR | O_CLOEXEC);
    if (r->csv_fd < 0 && errno != ENOENT) return gm_error(GM_ERR_IO, "%s: cannot open (%s)", r->csv_path, strerror(errno));
    struct stat st;
    if (r->csv_fd >= 0 && fstat(r->csv_fd, &st) == 0 && gm_csv_cuttable(r, st.st_size)) {
        if (st.st_size > (off_t)r->csv_bytes &&
            (ftruncate(r->csv_fd, (off_t)r->csv_bytes) != 0 || fsync(r->csv_fd) != 0))
            return gm_error(GM_ERR_IO, "%s: cannot cut back to %lld bytes (%s)", r->csv_path, r->csv_bytes,
                            strerror(errno));
        return GM_OK;
    }
    return gm_csv_rebuild(r);
}
