/* safe_file.c — files renamed into place only when complete (safe_file.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "safe_file.h"

static char *gm_safe_dup(const char *s, const char *suffix) {
    size_t n = strlen(s) + strlen(suffix) + 1;
    char *d = malloc(n);
    if (d) snprintf(d, n, "%s%s", s, suffix);
    return d;
}

static void gm_safe_free_paths(gm_safe_file *w) {
    free(w->final_path);
    free(w->tmp_path);
    w->final_path = w->tmp_path = NULL;
}

static void gm_safe_fail(gm_safe_file *w) {
    if (!w->failed) {
        w->failed = 1;
        w->errno_at_failure = errno ? errno : EIO;
    }
}

gm_status gm_safe_file_open(gm_safe_file *w, const char *final_path, const char *tmp_path) {
    memset(w, 0, sizeof *w);
    w->final_path = gm_safe_dup(final_path, "");
    w->tmp_path = tmp_path ? gm_safe_dup(tmp_path, "") : gm_safe_dup(final_path, ".tmp");
    if (!w->final_path || !w->tmp_path) {
        gm_safe_free_paths(w);
        return gm_error(GM_ERR_NOMEM, "%s: out of memory", final_path);
    }
    errno = 0;
    w->f = fopen(w->tmp_path, "wb");
    if (!w->f) {
        gm_status st = gm_error(GM_ERR_IO, "%s: cannot create %s: %s", final_path, w->tmp_path,
                                strerror(errno ? errno : EIO));
        gm_safe_free_paths(w);
        return st;
    }
    return GM_OK;
}

void gm_safe_file_write(gm_safe_file *w, const void *bytes, size_t n) {
    if (w->failed || n == 0) return;
    errno = 0;
    if (fwrite(bytes, 1, n, w->f) != n) gm_safe_fail(w);
}

void gm_safe_file_puts(gm_safe_file *w, const char *s) { gm_safe_file_write(w, s, strlen(s)); }

void gm_safe_file_printf(gm_safe_file *w, const char *fmt, ...) {
    if (w->failed) return;
    va_list ap;
    va_start(ap, fmt);
    errno = 0;
    int r = vfprintf(w->f, fmt, ap);
    va_end(ap);
    if (r < 0) gm_safe_fail(w);
}

gm_status gm_safe_file_close(gm_safe_file *w) {
    errno = 0;
    if (!w->failed && (fflush(w->f) != 0 || ferror(w->f))) gm_safe_fail(w);
    errno = 0;
    int closed = fclose(w->f);
    w->f = NULL;
    if (!w->failed && closed != 0) gm_safe_fail(w);
    if (!w->failed) return GM_OK;
    gm_status st = gm_error(GM_ERR_IO, "%s: cannot write %s: %s", w->final_path, w->tmp_path,
                            strerror(w->errno_at_failure));
    remove(w->tmp_path);
    gm_safe_free_paths(w);
    return st;
}

gm_status gm_safe_file_rename(gm_safe_file *w) {
    gm_status st = GM_OK;
    errno = 0;
    if (rename(w->tmp_path, w->final_path) != 0) {
        st = gm_error(GM_ERR_IO, "%s: cannot rename %s into place: %s", w->final_path, w->tmp_path,
                      strerror(errno ? errno : EIO));
        remove(w->tmp_path);
    }
    gm_safe_free_paths(w);
    return st;
}

gm_status gm_safe_file_commit(gm_safe_file *w) {
    GM_TRY(gm_safe_file_close(w));
    return gm_safe_file_rename(w);
}

void gm_safe_file_abort(gm_safe_file *w) {
    if (w->f) fclose(w->f);
    w->f = NULL;
    if (w->tmp_path) remove(w->tmp_path);
    gm_safe_free_paths(w);
}
