/* audit_report_escape.c — XML-safe text for the report (audit_report_internal.h): & < > " ' escaped,
 * malformed UTF-8 and characters XML 1.0 forbids replaced, so a strict parser accepts any path or
 * message. The file itself is a gm_safe_file (safe_file.h). */
#include <stdlib.h>
#include <string.h>

#include "audit_report_internal.h"

#define GM_RP_REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD */

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

void gm_rp_text(gm_safe_file *w, const char *s) {
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
            gm_safe_file_write(w, run, (size_t)(p - run));
            gm_safe_file_write(w, rep, strlen(rep));
            run = p + len;
        }
        p += len;
    }
    gm_safe_file_write(w, run, (size_t)(p - run));
}
