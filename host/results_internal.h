/* results_internal.h — what host/results*.c share: the writer's state (struct gm_results), the
 * journaling HDF5 file driver (results_journal.c), the HDF5 schema helpers (results_h5.c) and the
 * summary.csv writer (results_csv.c). Not a public header: callers use results.h. */
#ifndef GM_RESULTS_INTERNAL_H
#define GM_RESULTS_INTERNAL_H

#include <hdf5.h>
#include <stddef.h>

#include "results.h"

/* ---- journaling driver (results_journal.c) ---- */
typedef struct gm_journal gm_journal;

/* Brings results.h5 back to its last committed state before anything opens it: replays a
 * complete journal (a kill while it was being applied) and empties an incomplete one. `jfd` is
 * the journal, already opened read-write and locked by the caller. */
gm_status gm_journal_recover(const char *h5_path, int jfd);
/* Registers a driver instance writing through journal `jfd` (kept open by the caller); sync = 0
 * skips the fsyncs of each commit. */
gm_status gm_journal_new(const char *h5_path, int jfd, int sync, gm_journal **out);
/* A file access property list selecting this driver (caller closes it). */
hid_t gm_journal_fapl(gm_journal *j);
/* Makes everything HDF5 has written so far durable and atomic; call right after H5Fflush(). */
gm_status gm_journal_commit(gm_journal *j);
/* After a failed batch: the driver's close drops held bytes instead of committing them. */
void gm_journal_discard(gm_journal *j);
/* The last system-call failure seen inside the driver ("" when none), for messages. */
const char *gm_journal_io_error(const gm_journal *j);
/* Unregisters the driver (the file must be closed). Nulls *j. */
void gm_journal_free(gm_journal **j);

/* ---- writer state ---- */
typedef struct gm_results_map_dims { char *name; int height, width; hid_t dset; } gm_results_map_dims;

struct gm_results {
    char *dir, *h5_path, *tmp_path, *journal_path, *csv_path;
    int journal_fd, csv_fd;
    gm_journal *journal;
    hid_t file;
    hid_t d_path, d_width, d_height, d_status, d_topk_class, d_topk_prob, d_target_class, d_target_logit;
    hid_t d_err_index, d_err_path, d_err_message;
    gm_results_map_dims *maps;
    int n_methods, top_k, n_targets, n_classes;
    char **class_names; /* n_classes copies, or NULL */
    long long n_images, n_errors, csv_bytes;
    int failed, no_fsync;
    /* set of every path with a row: open addressing, linear probing, power-of-two capacity */
    char **done;
    size_t done_cap, done_count;
};

/* ---- HDF5 schema (results_h5.c) ---- */
/* Creates a fresh results file at `path` (plain sec2 driver) with every dataset at 0 rows and
 * the root attributes; `sha256` may be "". */
gm_status gm_results_h5_create(const char *path, const gm_results_spec *spec, const char *sha256,
                               long long csv_bytes);
/* Checks the root attributes of an open file against `spec`; fills n_images, n_errors and
 * csv_bytes of `r`. */
gm_status gm_results_h5_check(gm_results *r, const gm_results_spec *spec, const char *sha256);
/* Opens every dataset of `r->file` and checks each has n_images (or n_errors) rows. */
gm_status gm_results_h5_open_datasets(gm_results *r);
void gm_results_h5_close_datasets(gm_results *r);
/* Appends the batch's rows to every dataset and updates the counters (not yet flushed). */
gm_status gm_results_h5_append(gm_results *r, const gm_results_batch *b, long long csv_bytes_after);
/* Reads rows [start, start+count) of a 1-D vlen-string dataset into malloc'd copies. */
gm_status gm_results_h5_read_strings(hid_t dset, long long start, long long count, char **out);
/* Reads rows [start, start+count) of a 1- or 2-D dataset (row width `cols`) converted to `mem_type`. */
gm_status gm_results_h5_read_rows(hid_t dset, hid_t mem_type, long long start, long long count,
                                  long long cols, void *out);

/* ---- crash-proof pre-read (results_probe.c) ---- */
/* A stalled probe (no progress for this long) is taken for HDF5 looping on a corrupt file. */
#define GM_RESULTS_PROBE_STALL_MS 10000
/* Reads, in a child process, every attribute and dataset resuming will touch (strings fully, maps
 * their last row). GM_OK when the child finished or met an ordinary HDF5 error (the in-process
 * open then words it); GM_ERR_FORMAT naming `path` when it crashed or made no progress for
 * `stall_ms`. `lock_fd` is closed in the child (see results_probe.c). */
gm_status gm_results_probe(const char *path, int lock_fd, int stall_ms);

/* ---- summary.csv (results_csv.c) ---- */
/* Formats the batch's rows into a malloc'd buffer. */
gm_status gm_results_csv_format(const gm_results *r, const gm_results_batch *b, char **text, size_t *len);
/* Creates summary.csv holding only the header; returns its length. */
gm_status gm_results_csv_create(gm_results *r, long long *bytes);
/* Opens summary.csv on resume and makes it match results.h5 (cuts or rebuilds it). */
gm_status gm_results_csv_resume(gm_results *r);
/* Writes `text` at r->csv_bytes and fsyncs (r->csv_bytes is advanced by the caller). */
gm_status gm_results_csv_write(gm_results *r, const char *text, size_t len);

/* Frees a list of n malloc'd strings and nulls it. */
void gm_results_free_strings(char ***items, long long n);

#endif
