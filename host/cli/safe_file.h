/* safe_file.h — a file written under a temporary name and renamed into place only when every write,
 * the flush and the close succeeded, so a failure (full disk, a vanished folder) never leaves a
 * partial file under the final name. Writes after the first failure are skipped and reported by
 * gm_safe_file_close / gm_safe_file_commit. Used by the audit's CSV, HDF5 and HTML writers. */
#ifndef GM_SAFE_FILE_H
#define GM_SAFE_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "host/status.h"

typedef struct gm_safe_file {
    FILE *f;
    char *final_path, *tmp_path; /* owned */
    int failed;                  /* a write failed; errno_at_failure says why */
    int errno_at_failure;
} gm_safe_file;

/* Creates tmp_path (NULL: "<final_path>.tmp") for writing. GM_ERR_IO names both paths and the reason
 * (so a missing or unwritable folder fails before any work). */
gm_status gm_safe_file_open(gm_safe_file *w, const char *final_path, const char *tmp_path);
void gm_safe_file_write(gm_safe_file *w, const void *bytes, size_t n);
void gm_safe_file_puts(gm_safe_file *w, const char *s);
void gm_safe_file_printf(gm_safe_file *w, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Flushes and closes. On any failure so far removes the temporary file, frees the paths and returns
 * GM_ERR_IO naming the final path, the temporary one and the reason. Several files that must appear
 * together are closed first and renamed after. */
gm_status gm_safe_file_close(gm_safe_file *w);
/* Renames a closed file into place and frees the paths; on failure removes the temporary file. */
gm_status gm_safe_file_rename(gm_safe_file *w);
/* gm_safe_file_close, then gm_safe_file_rename. */
gm_status gm_safe_file_commit(gm_safe_file *w);
/* Closes (if open) and removes the temporary file, frees the paths (after another error). */
void gm_safe_file_abort(gm_safe_file *w);

#endif
