/* results.h — the results writer of `gradmap explain`: DIR/results.h5 and DIR/summary.csv, appended
 * one batch at a time, durable after every batch, resumable after a crash.
 *
 * DIR/results.h5 (n = images written so far, K = top_k, T = n_targets, m = failed images):
 *   /                       root attributes (strings are variable-length UTF-8; ints are int64):
 *       format = "gradmap-results", format_version = 1, gradmap_version, created (ISO 8601 UTC,
 *       first run), model_file, model_sha256 (hex), command_line (of the first run), methods
 *       (comma-separated, spec order), target_layer ("" when no method uses one), n_classes,
 *       precision, device, top_k (K), n_targets (T),
 *       n_images (n) and n_errors (m): rows durably written, rewritten with every batch,
 *       summary_csv_bytes: length of summary.csv that matches these rows (see below)
 *   /path          (n)        vlen string   image path as given
 *   /width, /height (n)       int32         original image size (0 when it could not be read)
 *   /status        (n)        int8          1 ok, 0 error (then the rows below hold fill values)
 *   /topk_class    (n, K)     int32         best class first (-1 for failed images)
 *   /topk_prob     (n, K)     float32       its probability (0 for failed images)
 *   /target_class  (n, T)     int32         class(es) the maps explain (-1 for failed images)
 *   /target_logit  (n, T)     float32       pre-softmax logit of each target class (0 if failed)
 *   /class_names   (n_classes) vlen string  only when names were given
 *   /maps/<method> (n, T, h, w) float32     raw map at the method's native resolution (input size
 *                                           for gradient methods, target-layer size for CAMs);
 *                                           chunk = one image (1, T, h, w), gzip level 1 optional;
 *                                           attributes height, width. Zeros for failed images.
 *   /errors/index  (m) int64, /errors/path (m) vlen string, /errors/message (m) vlen string:
 *                                           one row per failed image (index = its row above)
 * Every per-image dataset has exactly n rows; every /errors dataset exactly m rows.
 *
 * DIR/summary.csv: header `path,width,height,status,top1,top1_name,top1_prob,target_class,
 * target_name,target_logit,error`, then one row per (image, target class) — T rows per image, one
 * row for a failed image. Fields with commas, quotes or line breaks are quoted RFC 4180 style.
 *
 * Durability ("a run killed at any point loses at most the batch in flight"). HDF5 1.10 updates
 * its metadata (B-trees, object headers, superblock, heaps) in place, so a process killed inside
 * a write or flush can leave a file that no longer opens — a row counter alone cannot protect the
 * rows already written. results.h5 is therefore written through a small journaling HDF5 file
 * driver (host/results_journal.c): bytes HDF5 writes inside the committed part of the file are
 * held in memory; bytes past it (new chunks, new heap blocks) go straight to the file, where they
 * are invisible to the committed state. After each batch, H5Fflush() brings HDF5's complete image
 * to the driver, which commits it: (1) fsync results.h5, (2) write the held bytes to
 * DIR/results.h5.journal with a SHA-256 and fsync it (the commit point), (3) copy them into
 * results.h5 and fsync, (4) empty the journal. Opening the directory again replays a complete
 * journal (a kill during step 3) and ignores an incomplete one (a kill before step 2 ended), so
 * results.h5 always comes back in the state of the last committed batch. summary.csv is written
 * and fsync'd before the batch commits and is cut back to summary_csv_bytes on resume (rebuilt
 * from results.h5 if it is shorter). results.h5 is a plain HDF5 file (default driver and format,
 * readable by HDF5 1.8+ and h5py); a reader opening it while a writer runs may catch a commit half
 * applied, and after a crash that left results.h5.journal non-empty, resume must run first. The
 * journal is locked (flock) while a writer is open: two runs cannot share one DIR.
 * Why not HDF5's SWMR mode: it forbids variable-length strings in datasets being appended, leaves
 * a crashed file flagged "open for writing" (h5clear needed), and promises readers a consistent
 * view, not a writer that recovers. Proof: tests/unit/test_results_kill.c (seeded random SIGKILLs,
 * staged crash windows, disk full) and test_results_crashpoints.c (SIGKILL at every pwrite,
 * ftruncate, fsync and rename of a batch commit and of a run's creation). */
#ifndef GM_RESULTS_H
#define GM_RESULTS_H

#include "status.h"

typedef struct gm_results gm_results;

typedef struct gm_results_method {
    const char *name;  /* method name as on the command line: letters, digits, '_', '+', '-', '.' */
    int height, width; /* native map size */
} gm_results_method;

typedef struct gm_results_spec {
    const char *dir;                  /* created (one level) when missing */
    const gm_results_method *methods; /* n_methods >= 0 */
    int n_methods;
    int top_k;     /* K >= 1 classes recorded per image */
    int n_targets; /* T >= 1 target classes (maps) per image */
    int n_classes; /* model output size (class indices are checked against it) */
    const char *const *class_names; /* n_classes names for the CSV and /class_names, or NULL */
    int gzip;                       /* 1: deflate level 1 on /maps (only when the file is created) */
    /* provenance, recorded when the file is created (NULL is stored as "") */
    const char *model_file;   /* hashed here (SHA-256); NULL: no hash */
    const char *command_line;
    const char *target_layer;
    const char *precision; /* e.g. "fp32" */
    const char *device;    /* e.g. "cpu" */
    /* resume reads an existing results.h5 first in a child process (HDF5 can crash or spin on a
     * damaged file); no progress for this long means corrupt. 0: 10 s. */
    int probe_stall_ms;
    /* 1: no fsync per batch — still survives a killed process (the kernel keeps written pages),
     * not a power cut or OS crash; saves ~4 fsyncs per batch (benchmarks, scratch disks). */
    int no_fsync;
} gm_results_spec;

/* One batch of n images, in the order they are to be stored. Arrays are indexed by item; rows of
 * failed items (status 0) are ignored and stored as the fill values above. */
typedef struct gm_results_batch {
    int n;
    const char *const *paths;    /* [n], non-NULL */
    const int *widths, *heights; /* [n] original sizes */
    const int *status;           /* [n] 1 ok, 0 error */
    const char *const *errors;   /* [n] message of each failed item (may be NULL when all ok) */
    const int *topk_class;       /* [n * K] */
    const float *topk_prob;      /* [n * K] */
    const int *target_class;     /* [n * T] */
    const float *target_logit;   /* [n * T] */
    const float *const *maps;    /* [n_methods] in spec order, each [n * T * h * w] */
} gm_results_batch;

/* Opens DIR for writing. resume = 0: DIR must not hold a results.h5 yet (GM_ERR_INVALID_ARG
 * otherwise, so an earlier run is never overwritten). resume = 1: an existing results.h5 is
 * recovered and reopened, and its methods, map shapes, top_k, n_targets, n_classes, target layer,
 * precision and model hash must match `spec` (GM_ERR_INVALID_ARG naming the difference); without
 * one a new run starts. A file that is not ours, or corrupt, is GM_ERR_FORMAT; an unwritable DIR
 * is GM_ERR_IO naming the path. */
gm_status gm_results_open(const gm_results_spec *spec, int resume, gm_results **out);

/* 1 when `path` already has a row (ok or failed) — written by an earlier run or by this one. */
int gm_results_is_done(const gm_results *r, const char *path);
/* Rows durably written (images, and failed images among them). */
long long gm_results_count(const gm_results *r);
long long gm_results_error_count(const gm_results *r);

/* Appends a batch and makes it durable before returning GM_OK. After any failure the writer
 * refuses further batches (GM_ERR_IO): what was committed before stays intact, and reopening
 * with resume = 1 continues from there. */
gm_status gm_results_append_batch(gm_results *r, const gm_results_batch *b);

/* Closes (committing nothing new: every batch is committed by append). Nulls *r. */
gm_status gm_results_close(gm_results **r);

/* Writes one CSV field to `out` (capacity `cap`, NUL-terminated), quoted when it holds a comma,
 * quote, CR or LF; returns the length it needs (like snprintf), so a short buffer is detectable. */
size_t gm_results_csv_field(const char *text, char *out, size_t cap);

#endif
