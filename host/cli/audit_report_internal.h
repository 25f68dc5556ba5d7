/* audit_report_internal.h — shared by the report's files (audit_report.c: the page;
 * audit_report_svg.c: the eigenvalue spectrum plots; audit_report_pictures.c: the PNGs).
 *
 * The page and the SVGs are gm_safe_files (safe_file.h): renamed into place only when complete. */
#ifndef GM_AUDIT_REPORT_INTERNAL_H
#define GM_AUDIT_REPORT_INTERNAL_H

#include <stdio.h>

#include "audit_output.h"
#include "safe_file.h"

/* Writes s as XML/HTML text or attribute value: & < > " ' escaped; bytes that are not well-formed
 * UTF-8 and characters XML 1.0 forbids (controls other than tab and newlines, U+FFFE, U+FFFF) become
 * U+FFFD, so a strict XML parser accepts any path or message. NULL writes nothing. */
void gm_rp_text(gm_safe_file *w, const char *s);
/* The eigenvalue spectrum of class `cls` as a small SVG stem plot: index 1..n_eigen vs value, axes
 * with tick labels, the chosen k as a dashed vertical line and the eigengap annotated. The class must
 * have spray.n_eigen >= 1 and eigenvalues. */
gm_status gm_rp_spectrum_svg(const gm_audit_class *cls, const char *path);

/* PNG pictures of the report. Overlays are written at most once per image: the outcome (written,
 * or the reason the image could not be read) is remembered. */
typedef struct gm_rp_pictures {
    const gm_audit *a;
    const gm_audit_report_options *o;
    char *pic_dir;       /* DIR/report (owned) */
    unsigned char *done; /* per image: 0 not tried, 1 written, 2 unreadable */
    char **why;          /* per image: the reason when unreadable (owned) */
} gm_rp_pictures;

gm_status gm_rp_pictures_init(gm_rp_pictures *p, const gm_audit *a, const gm_audit_report_options *o,
                              const char *pic_dir);
void gm_rp_pictures_free(gm_rp_pictures *p);
/* A map_h x map_w mean map as DIR/report/<name>: scaled to its own maximum (a mean of maps rarely
 * reaches 1), coloured, upscaled so its longer side is at least 128 px. */
gm_status gm_rp_map_png(gm_rp_pictures *p, const float *map, const char *name);
/* DIR/report/img<idx>_overlay.png: the image re-read, its audit map resized to it and blended (the
 * image is first reduced to at most GM_RP_OVERLAY_MAX_SIDE px a side, never enlarged). Returns
 * GM_OK and *why = NULL when written, GM_OK and *why = the reason when the image cannot be read or
 * has no map (not fatal), an error when the PNG cannot be written. */
#define GM_RP_OVERLAY_MAX_SIDE 256
gm_status gm_rp_overlay(gm_rp_pictures *p, int idx, const char **why);

#endif
