/* audit_dataset.h — the labelled dataset `gradmap audit` reads (audit_dataset.c):
 *   a folder of class folders  DATA/<label>/<image>   (sorted; images found recursively), or
 *   a CSV file                 path,label[,mask][,x0,y0,x1,y1]   (header row optional; relative
 *                              paths resolved against the CSV's folder; rows naming the same image
 *                              add boxes, so an image may have several objects),
 * with optional object annotations:
 *   --masks DIR   folder mode: DIR/<label>/<image stem>.png (or the image's own file name) per image;
 *                 CSV mode: the folder relative mask paths of the CSV are resolved against;
 *   --boxes CSV   rows path,x0,y0,x1,y1 (header optional), path as listed (relative to DATA in folder
 *                 mode); several rows per image allowed.
 * Boxes are half-open pixel rectangles of the original image (explain/audit_metrics.h).
 * Problems with one item (a bad CSV row, a box row for an unknown image, a missing mask) become
 * per-item errors or notes; only an unreadable DATA, masks folder or boxes file stops the audit. */
#ifndef GM_AUDIT_DATASET_H
#define GM_AUDIT_DATASET_H

#include <stdio.h>

#include "explain/audit_metrics.h"

typedef struct gm_audit_item {
    char *path;           /* image path as opened (owned) */
    char *listed;         /* the path as listed: relative to DATA (folder mode) or as written in the CSV (owned) */
    int cls;              /* index into gm_audit_dataset.labels */
    char *mask_path;      /* NULL when the item has no mask (owned) */
    gm_audit_rect *boxes; /* n_boxes object boxes (owned) */
    int n_boxes;
    char *error;          /* listing-time error (the item is not explained), or NULL (owned) */
    char *note;           /* listing-time warning (e.g. no mask found), or NULL (owned) */
} gm_audit_item;

typedef struct gm_audit_dataset {
    gm_audit_item *items;
    int n_items;
    char **labels;        /* distinct labels, sorted (folder mode: every class folder, even empty) */
    int n_labels;
    int has_annotations;  /* --masks or --boxes given, or the CSV has mask/box columns */
    int n_warnings;       /* dataset-level warnings printed (files outside class folders, ...) */
} gm_audit_dataset;

/* Lists DATA (folder or .csv) with optional masks folder and boxes file (either may be NULL).
 * quiet: no warnings on stderr. */
gm_status gm_audit_dataset_load(const char *data, const char *masks, const char *boxes, int quiet,
                                gm_audit_dataset *out);
void gm_audit_dataset_free(gm_audit_dataset *d);

/* Reads one RFC 4180 record from f into at most max_fields malloc'd fields (quoted fields may hold
 * commas, doubled quotes and line breaks). Returns the number of fields, 0 at end of file, -1 on
 * allocation failure or a field count above max_fields (the rest of the line is consumed). The
 * fields must be freed with gm_csv_fields_free. */
int gm_csv_read_record(FILE *f, char **fields, int max_fields);
void gm_csv_fields_free(char **fields, int n);

#endif
