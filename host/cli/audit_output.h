/* audit_output.h — the files `gradmap audit` writes into its output folder DIR, from a summarised
 * gm_audit (explain/audit.h):
 *   DIR/images.csv   one row per listed image (audit_write_csv.c)
 *   DIR/classes.csv  one row per dataset class, in decreasing suspicion (audit_write_csv.c)
 *   DIR/audit.h5     every per-image metric, audit map and cluster label, the per-class and
 *                    per-cluster summaries and spectra (audit_write_h5.c)
 *   DIR/report.html  one self-contained page, its pictures in DIR/report/ (audit_report.c)
 * Each file is written under a temporary name in DIR and renamed into place when complete, so a
 * failure (full disk) never leaves a truncated file under the final name. Messages name the file. */
#ifndef GM_AUDIT_OUTPUT_H
#define GM_AUDIT_OUTPUT_H

#include "explain/audit.h"
#include "explain/post.h"

gm_status gm_audit_write_csv(const gm_audit *a, const char *dir);
gm_status gm_audit_write_h5(const gm_audit *a, const char *dir);

typedef struct gm_audit_report_options {
    gm_colormap colormap;  /* of heatmaps and overlays (jet) */
    double alpha;          /* overlay weight (GM_POST_DEFAULT_ALPHA) */
    int samples_per_cluster; /* member overlays shown per cluster (6) */
    int worst_per_class;   /* worst images shown per class (4) */
} gm_audit_report_options;

void gm_audit_report_options_default(gm_audit_report_options *o);

/* Writes DIR/report.html and its pictures in DIR/report/ (created). Overlays re-read the listed
 * images; one that can no longer be read is shown as missing in the page, never fatal. */
gm_status gm_audit_write_report(const gm_audit *a, const char *dir, const gm_audit_report_options *o);

#endif
