/* audit_report_file.c — the report's text-file writer (audit_report_internal.h): a temporary file
 * renamed into place when complete, every write checked (full disk), and XML-safe text escaping. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "audit_report_internal.h"

#define GM_RP_REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD */

char *gm_rp_join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static void gm_rp_free_paths(gm_rp_file *w) {
    free(w->final_path);
    free(w->tmp_path);
    w->final_path = w->tmp_path = NULL;
}

gm_status gm_rp_open(gm_rp_file *w, const char *final_path) {
    memset(w, 0, sizeof *w);
    size_t n = strlen(final_path) + 5;
    w->final_path = strdup(final_path);
    w->tmp_path = malloc(n);
    if (!w->final_path || !w->tmp_path) {
        gm_rp_free_paths(w);
        return gm_error(GM_ERR_NOMEM, "%s: out of memory", final_path);
    }
    snprintf(w->tmp_path, n, "%s.tmp", final_path);
    w->f = fopen(w->tmp_path, "w");
    if (!w->f) {
        gm_status st = gm_error(GM_ERR_IO, "%s: cannot create %s: %s", final_path, w->tmp_path, strerror(errno));
        gm_rp_free_paths(w);
        return st;
    }
    return GM_OK;
}

static void gm_rp_fail(gm_rp_file *w) {
    if (!w->failed) {
        w->failed = 1;
        w->errno_at_failure = errno ? errno : EIO;
    }
}

static void gm_rp_raw(gm_rp_file *w, const void *bytes, size_t n) {
    if (w->failed || n == 0) return;
    errno = 0;
    if (fwrite(bytes, 1, n, w->f) != n) gm_rp_fail(w);
}

void gm_rp_printf(gm_rp_file *w, const char *fmt, ...) {
    if (w->failed) return;
    va_list ap;
    va_start(ap, fmt);
    errno = 0;
    int r = vfprintf(w->f, fmt, ap);
    va_end(ap);
    if (r < 0) gm_rp_fail(w);
}

/* Length of the well-formed UTF-8 sequence at p that XML 1.0 allows (no surrogates, no overlongs,
 * nothing above U+10FFFF, not U+FFFE or U+FFFF), or 0. */
static size_t gm_rp_utf8_len(const unsigned char *p) {
    unsigned c = p[0];
#define CONT(i) (p[i] >= 0x80 && p[i] <= 0xBF)
    if (c >= 0xC2 && c <= 0xDF) return CONT(1) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        if (!(p[1] >= lo && p[1] <= hi && CONT(2))) return 0;
        if (c == 0xEF && p[1] == 0xBF && (p[2] == 0xBE || p[2] == 0xBF)) return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        return p[1] >= lo && p[1] <= hi && CONT(2) && CONT(3) ? 4 : 0;
    }
#undef CONT
    return 0;
}

void gm_rp_text(gm_rp_file *w, const char *s) {
    if (!s) return;
    const unsigned char *p = (const unsigned char *)s, *run = p;
    while (*p && !w->failed) {
        const char *rep = NULL;
        size_t len = 1;
        unsigned c = *p;
        if (c < 0x80) {
            if (c == '&') rep = "&amp;";
            else if (c == '<') rep = "&lt;";
            else if (c == '>') rep = "&gt;";
            else if (c == '"') rep = "&quot;";
            else if (c == '\'') rep = "&#39;";
            else if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') rep = GM_RP_REPLACEMENT;
        } else {
            len = gm_rp_utf8_len(p); /* reads at most up to the terminator: a NUL is never a continuation */
            if (len == 0) rep = GM_RP_REPLACEMENT, len = 1;
        }
        if (rep) {
            gm_rp_raw(w, run, (size_t)(p - run));
            gm_rp_raw(w, rep, strlen(rep));
            run = p + len;
        }
        p += len;
    }
    gm_rp_raw(w, run, (size_t)(p - run));
}

void gm_rp_abort(gm_rp_file *w) {
    if (w->f) fclose(w->f);
    w->f = NULL;
    if (w->tmp_path) remove(w->tmp_path);
    gm_rp_free_paths(w);
}

gm_status gm_rp_commit(gm_rp_file *w) {
    errno = 0;
    if (!w->failed && (fflush(w->f) != 0 || ferror(w->f))) gm_rp_fail(w);
    errno = 0;
    int closed = fclose(w->f);
    w->f = NULL;
    if (!w->failed && closed != 0) gm_rp_fail(w);
    if (!w->failed && rename(w->tmp_path, w->final_path) != 0) gm_rp_fail(w);
    gm_status st = GM_OK;
    if (w->failed) {
        st = gm_error(GM_ERR_IO, "%s: cannot write: %s", w->final_path, strerror(w->errno_at_failure));
        remove(w->tmp_path);
    }
    gm_rp_free_paths(w);
    return st;
}
