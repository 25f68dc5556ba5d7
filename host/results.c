/* results.c — the results writer's life cycle (API and file layout in results.h): opening DIR
 * fresh or for --resume (journal recovery, a crash-proof probe of the file, spec check, the set of
 * paths already written), appending a batch (summary.csv rows first, then the HDF5 rows, then one
 * commit), and closing. A fresh results.h5 is built complete at results.h5.tmp and renamed into
 * place, so results.h5 never exists half-created. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "results_internal.h"
#include "sha256.h"

#define GM_RESUME_BLOCK 4096   /* paths read per block when rebuilding the done set */

void gm_results_free_strings(char ***items, long long n) {
    if (!*items) return;
    for (long long i = 0; i < n; ++i) free((*items)[i]);
    free(*items);
    *items = NULL;
}

/* ---- the set of written paths ---- */

static uint64_t gm_hash_path(const char *s) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; ++s) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* Makes room for `more` insertions without failing later (load factor <= 1/2). */
static int gm_done_reserve(gm_results *r, size_t more) {
    if ((r->done_count + more) * 2 <= r->done_cap) return 1;
    size_t cap = r->done_cap ? r->done_cap : 1024;
    while ((r->done_count + more) * 2 > cap) cap *= 2;
    char **slots = calloc(cap, sizeof *slots);
    if (!slots) return 0;
    for (size_t i = 0; i < r->done_cap; ++i) {
        if (!r->done[i]) continue;
        size_t at = (size_t)gm_hash_path(r->done[i]) & (cap - 1);
        while (slots[at]) at = (at + 1) & (cap - 1);
        slots[at] = r->done[i];
    }
    free(r->done);
    r->done = slots;
    r->done_cap = cap;
    return 1;
}

/* Takes ownership of `path` (freed when already present). Room must have been reserved. */
static void gm_done_insert(gm_results *r, char *path) {
    size_t at = (size_t)gm_hash_path(path) & (r->done_cap - 1);
    for (; r->done[at]; at = (at + 1) & (r->done_cap - 1)) {
        if (strcmp(r->done[at], path) == 0) {
            free(path);
            return;
        }
    }
    r->done[at] = path;
    ++r->done_count;
}

int gm_results_is_done(const gm_results *r, const char *path) {
    if (!r || !path || r->done_cap == 0) return 0;
    for (size_t at = (size_t)gm_hash_path(path) & (r->done_cap - 1); r->done[at]; at = (at + 1) & (r->done_cap - 1))
        if (strcmp(r->done[at], path) == 0) return 1;
    return 0;
}

long long gm_results_count(const gm_results *r) { return r ? r->n_images : 0; }
long long gm_results_error_count(const gm_results *r) { return r ? r->n_errors : 0; }

static gm_status gm_load_done(gm_results *r) {
    if (!gm_done_reserve(r, (size_t)r->n_images)) return gm_error(GM_ERR_NOMEM, "%s: out of memory", r->h5_path);
    char **block = calloc(GM_RESUME_BLOCK, sizeof *block);
    if (!block) return gm_error(GM_ERR_NOMEM, "%s: out of memory", r->h5_path);
    gm_status st = GM_OK;
    for (long long start = 0; st == GM_OK && start < r->n_images; start += GM_RESUME_BLOCK) {
        long long n = r->n_images - start < GM_RESUME_BLOCK ? r->n_images - start : GM_RESUME_BLOCK;
        st = gm_results_h5_read_strings(r->d_path, start, n, block);
        for (long long i = 0; st == GM_OK && i < n; ++i) gm_done_insert(r, block[i]);
    }
    free(block);
    return st == GM_OK ? GM_OK : gm_error_context(st, "%s: reading /path: ", r->h5_path);
}

/* ---- opening ---- */

static gm_status gm_check_spec(const gm_results_spec *s) {
    if (!s || !s->dir || !s->dir[0]) return gm_error(GM_ERR_INVALID_ARG, "results: no output directory given");
    if (s->n_methods < 0 || (s->n_methods > 0 && !s->methods))
        return gm_error(GM_ERR_INVALID_ARG, "%s: invalid method list", s->dir);
    if (s->top_k < 1 || s->n_targets < 1 || s->n_classes < 1 || s->top_k > s->n_classes || s->n_targets > s->n_classes)
        return gm_error(GM_ERR_INVALID_ARG, "%s: invalid top_k %d / n_targets %d for %d classes", s->dir, s->top_k,
                        s->n_targets, s->n_classes);
    for (int m = 0; m < s->n_methods; ++m) {
        const gm_results_method *me = &s->methods[m];
        size_t len = me->name ? strlen(me->name) : 0;
        int ok = len > 0 && len <= 200 && me->height >= 1 && me->width >= 1 && me->height <= 65536 &&
                 me->width <= 65536;
        for (size_t i = 0; ok && i < len; ++i) {
            char c = me->name[i];
            ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                 c == '+' || c == '-' || (c == '.' && i > 0);
        }
        for (int o = 0; ok && o < m; ++o) ok = strcmp(s->methods[o].name, me->name) != 0;
        if (!ok)
            return gm_error(GM_ERR_INVALID_ARG, "%s: invalid or repeated method '%s' (%dx%d)", s->dir,
                            me->name ? me->name : "", me->height, me->width);
    }
    return GM_OK;
}

static char *gm_join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s/%s", dir, name);
    return s;
}

static gm_status gm_make_dir(const char *dir) {
    if (mkdir(dir, 0777) == 0) return GM_OK;
    int err = errno;
    struct stat st;
    if (err == EEXIST && stat(dir, &st) == 0) {
        if (S_ISDIR(st.st_mode)) return GM_OK;
        return gm_error(GM_ERR_IO, "%s: exists and is not a directory (output directory)", dir);
    }
    return gm_error(GM_ERR_IO, "%s: cannot create the output directory (%s)", dir, strerror(err));
}

static gm_status gm_sync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        int err = errno;
        if (fd >= 0) close(fd);
        return gm_error(GM_ERR_IO, "%s: cannot sync the directory (%s)", dir, strerror(err));
    }
    close(fd);
    return GM_OK;
}

/* Builds results.h5 complete under a temporary name and renames it into place. */
static gm_status gm_create_fresh(gm_results *r, const gm_results_spec *spec, const char *sha) {
    long long csv_bytes = 0;
    GM_TRY(gm_results_csv_create(r, &csv_bytes));
    GM_TRY(gm_results_h5_create(r->tmp_path, spec, sha, csv_bytes));
    int fd = open(r->tmp_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        int err = errno;
        if (fd >= 0) close(fd);
        return gm_error(GM_ERR_IO, "%s: cannot sync (%s)", r->tmp_path, strerror(err));
    }
    close(fd);
    if (rename(r->tmp_path, r->h5_path) != 0)
        return gm_error(GM_ERR_IO, "%s: cannot rename to %s (%s)", r->tmp_path, r->h5_path, strerror(errno));
    return gm_sync_dir(r->dir);
}

static gm_status gm_results_commit(gm_results *r) {
    if (H5Fflush(r->file, H5F_SCOPE_GLOBAL) < 0) {
        const char *io = gm_journal_io_error(r->journal);
        return gm_error(GM_ERR_IO, "%s: cannot flush (%s)", r->h5_path, io[0] ? io : "HDF5 flush failed");
    }
    return gm_journal_commit(r->journal);
}

static gm_status gm_results_open_impl(gm_results *r, const gm_results_spec *spec, int resume) {
    GM_TRY(gm_make_dir(r->dir));
    char sha[65] = "";
    if (spec->model_file && spec->model_file[0]) GM_TRY(gm_sha256_file(spec->model_file, sha));
    r->journal_fd = open(r->journal_path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (r->journal_fd < 0)
        return gm_error(GM_ERR_IO, "%s: cannot create (%s): is the output directory writable?", r->journal_path,
                        strerror(errno));
    if (flock(r->journal_fd, LOCK_EX | LOCK_NB) != 0)
        return gm_error(GM_ERR_IO, "%s: another gradmap run is writing to this directory (%s is locked)", r->dir,
                        r->journal_path);
    /* The journal's directory entry must survive a power cut as surely as what it will hold. */
    if (!r->no_fsync) GM_TRY(gm_sync_dir(r->dir));
    struct stat st;
    int exists = stat(r->h5_path, &st) == 0;
    if (exists && !resume)
        return gm_error(GM_ERR_INVALID_ARG, "%s: already exists (pass --resume to continue that run, or choose "
                                            "another --out)", r->h5_path);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (exists) {
        if (!S_ISREG(st.st_mode)) return gm_error(GM_ERR_IO, "%s: not a regular file", r->h5_path);
        GM_TRY(gm_journal_recover(r->h5_path, r->journal_fd));
        if (H5Fis_hdf5(r->h5_path) <= 0)
            return gm_error(GM_ERR_FORMAT, "%s: not an HDF5 file (expected the results of an earlier gradmap run)",
                            r->h5_path);
        GM_TRY(gm_results_probe(r->h5_path, r->journal_fd,
                                 spec->probe_stall_ms > 0 ? spec->probe_stall_ms : GM_RESULTS_PROBE_STALL_MS));
    } else {
        /* A journal without its results.h5 belongs to nothing: replayed later onto the new file it
         * would corrupt it. */
        if (ftruncate(r->journal_fd, 0) != 0)
            return gm_error(GM_ERR_IO, "%s: cannot empty (%s)", r->journal_path, strerror(errno));
        GM_TRY(gm_create_fresh(r, spec, sha));
    }
    GM_TRY(gm_journal_new(r->h5_path, r->journal_fd, !r->no_fsync, &r->journal));
    hid_t fapl = gm_journal_fapl(r->journal);
    if (fapl < 0) return gm_error(GM_ERR_IO, "%s: cannot set up the HDF5 driver", r->h5_path);
    r->file = H5Fopen(r->h5_path, H5F_ACC_RDWR, fapl);
    H5Pclose(fapl);
    if (r->file < 0) {
        const char *io = gm_journal_io_error(r->journal);
        return gm_error(io[0] ? GM_ERR_IO : GM_ERR_FORMAT, "%s: cannot open the results file for writing (%s)",
                        r->h5_path, io[0] ? io : "truncated or corrupt HDF5");
    }
    GM_TRY(gm_results_h5_check(r, spec, sha));
    GM_TRY(gm_results_h5_open_datasets(r));
    if (exists) {
        long long recorded = r->csv_bytes;
        GM_TRY(gm_results_csv_resume(r));
        if (r->csv_bytes != recorded) {
            /* summary.csv was rebuilt: record its new length before any batch relies on it. */
            hid_t a = H5Aopen(r->file, "summary_csv_bytes", H5P_DEFAULT);
            int ok = a >= 0 && H5Awrite(a, H5T_NATIVE_LLONG, &r->csv_bytes) >= 0;
            if (a >= 0) H5Aclose(a);
            if (!ok) return gm_error(GM_ERR_IO, "%s: cannot record the rebuilt summary.csv length", r->h5_path);
            GM_TRY(gm_results_commit(r));
        }
        GM_TRY(gm_load_done(r));
    }
    return GM_OK;
}

gm_status gm_results_open(const gm_results_spec *spec, int resume, gm_results **out) {
    *out = NULL;
    GM_TRY(gm_check_spec(spec));
    gm_results *r = calloc(1, sizeof *r);
    if (!r) return gm_error(GM_ERR_NOMEM, "%s: out of memory", spec->dir);
    r->journal_fd = r->csv_fd = -1;
    r->file = -1;
    r->d_path = r->d_width = r->d_height = r->d_status = r->d_topk_class = r->d_topk_prob = -1;
    r->d_target_class = r->d_target_logit = r->d_err_index = r->d_err_path = r->d_err_message = -1;
    r->n_methods = spec->n_methods;
    r->top_k = spec->top_k;
    r->n_targets = spec->n_targets;
    r->n_classes = spec->n_classes;
    r->no_fsync = spec->no_fsync != 0;
    r->dir = strdup(spec->dir);
    r->h5_path = gm_join(spec->dir, "results.h5");
    r->tmp_path = gm_join(spec->dir, "results.h5.tmp");
    r->journal_path = gm_join(spec->dir, "results.h5.journal");
    r->csv_path = gm_join(spec->dir, "summary.csv");
    r->maps = calloc((size_t)spec->n_methods + 1, sizeof *r->maps);
    int ok = r->dir && r->h5_path && r->tmp_path && r->journal_path && r->csv_path && r->maps;
    for (int m = 0; ok && m < spec->n_methods; ++m) {
        r->maps[m].dset = -1;
        r->maps[m].height = spec->methods[m].height;
        r->maps[m].width = spec->methods[m].width;
        ok = (r->maps[m].name = strdup(spec->methods[m].name)) != NULL;
    }
    if (ok && spec->class_names) {
        ok = (r->class_names = calloc((size_t)spec->n_classes, sizeof *r->class_names)) != NULL;
        for (int c = 0; ok && c < spec->n_classes; ++c)
            ok = (r->class_names[c] = strdup(spec->class_names[c] ? spec->class_names[c] : "")) != NULL;
    }
    gm_status st = ok ? gm_results_open_impl(r, spec, resume) : gm_error(GM_ERR_NOMEM, "%s: out of memory", spec->dir);
    if (st != GM_OK) {
        r->failed = 1; /* close without committing anything */
        gm_results_close(&r);
        return st;
    }
    *out = r;
    return GM_OK;
}

/* ---- appending ---- */

static gm_status gm_check_batch(const gm_results *r, const gm_results_batch *b) {
    if (b->n < 0 || (b->n > 0 && (!b->paths || !b->widths || !b->heights || !b->status)))
        return gm_error(GM_ERR_INVALID_ARG, "%s: malformed batch", r->h5_path);
    int any_ok = 0;
    for (int i = 0; i < b->n; ++i) {
        if (!b->paths[i]) return gm_error(GM_ERR_INVALID_ARG, "%s: batch item %d has no path", r->h5_path, i);
        any_ok |= b->status[i] != 0;
    }
    if (!any_ok) return GM_OK;
    if (!b->topk_class || !b->topk_prob || !b->target_class || !b->target_logit || (r->n_methods > 0 && !b->maps))
        return gm_error(GM_ERR_INVALID_ARG, "%s: batch without predictions or maps", r->h5_path);
    for (int m = 0; m < r->n_methods; ++m)
        if (!b->maps[m]) return gm_error(GM_ERR_INVALID_ARG, "%s: batch without maps for %s", r->h5_path, r->maps[m].name);
    for (int i = 0; i < b->n; ++i) {
        if (!b->status[i]) continue;
        for (int k = 0; k < r->top_k; ++k) {
            int c = b->topk_class[(size_t)i * r->top_k + k];
            if (c < 0 || c >= r->n_classes)
                return gm_error(GM_ERR_INVALID_ARG, "%s: top-k class %d out of range for %s", r->h5_path, c, b->paths[i]);
        }
        for (int t = 0; t < r->n_targets; ++t) {
            int c = b->target_class[(size_t)i * r->n_targets + t];
            if (c < 0 || c >= r->n_classes)
                return gm_error(GM_ERR_INVALID_ARG, "%s: target class %d out of range for %s", r->h5_path, c, b->paths[i]);
        }
    }
    return GM_OK;
}

gm_status gm_results_append_batch(gm_results *r, const gm_results_batch *b) {
    if (!r || !b) return gm_error(GM_ERR_INVALID_ARG, "results: null writer or batch");
    if (r->failed)
        return gm_error(GM_ERR_IO, "%s: the writer stopped after an earlier error (rerun with --resume)", r->h5_path);
    GM_TRY(gm_check_batch(r, b));
    if (b->n == 0) return GM_OK;
    /* Everything that can fail for lack of memory is prepared before the commit. */
    char **copies = calloc((size_t)b->n, sizeof *copies);
    int ok = copies && gm_done_reserve(r, (size_t)b->n);
    for (int i = 0; ok && i < b->n; ++i) ok = (copies[i] = strdup(b->paths[i])) != NULL;
    char *text = NULL;
    size_t len = 0;
    gm_status st = ok ? gm_results_csv_format(r, b, &text, &len)
                      : gm_error(GM_ERR_NOMEM, "%s: out of memory", r->h5_path);
    if (st == GM_OK) {
        /* From here a failure leaves the files in an unknown in-memory state: stop the writer. */
        st = gm_results_csv_write(r, text, len);
        if (st == GM_OK) st = gm_results_h5_append(r, b, r->csv_bytes + (long long)len);
        if (st == GM_OK) st = gm_results_commit(r);
        if (st != GM_OK) {
            r->failed = 1;
            gm_journal_discard(r->journal);
        }
    }
    free(text);
    if (st != GM_OK) {
        gm_results_free_strings(&copies, b->n);
        return st;
    }
    r->csv_bytes += (long long)len;
    for (int i = 0; i < b->n; ++i) gm_done_insert(r, copies[i]);
    free(copies);
    return GM_OK;
}

/* ---- closing ---- */

gm_status gm_results_close(gm_results **rp) {
    gm_results *r = *rp;
    if (!r) return GM_OK;
    gm_status st = GM_OK;
    gm_results_h5_close_datasets(r);
    if (r->failed) gm_journal_discard(r->journal);
    if (r->file >= 0 && H5Fclose(r->file) < 0 && !r->failed) {
        const char *io = gm_journal_io_error(r->journal);
        st = gm_error(GM_ERR_IO, "%s: cannot close (%s)", r->h5_path, io[0] ? io : "HDF5 close failed");
    }
    gm_journal_free(&r->journal);
    if (r->csv_fd >= 0 && close(r->csv_fd) != 0 && st == GM_OK)
        st = gm_error(GM_ERR_IO, "%s: cannot close (%s)", r->csv_path, strerror(errno));
    if (r->journal_fd >= 0) {
        /* An empty journal holds nothing to replay: remove it while still holding the lock. A
         * non-empty one (a failed writer) may hold a committed batch the next open must replay. */
        struct stat js;
        if (fstat(r->journal_fd, &js) == 0 && js.st_size == 0) unlink(r->journal_path);
        close(r->journal_fd);
    }
    for (int m = 0; r->maps && m < r->n_methods; ++m) free(r->maps[m].name);
    if (r->class_names) gm_results_free_strings(&r->class_names, r->n_classes);
    for (size_t i = 0; i < r->done_cap; ++i) free(r->done[i]);
    free(r->done);
    free(r->maps), free(r->dir), free(r->h5_path), free(r->tmp_path), free(r->journal_path), free(r->csv_path);
    free(r);
    *rp = NULL;
    return st;
}
