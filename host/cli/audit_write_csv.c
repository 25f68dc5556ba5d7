/* audit_write_csv.c — DIR/images.csv and DIR/classes.csv of `gradmap audit` (audit_output.h).
 *
 * Both files: a header row, then one row per image (in a->images order) or per dataset class (in
 * a->class_order, decreasing suspicion); fields quoted as RFC 4180 says (a field holding a comma,
 * a double quote, CR or LF is enclosed in double quotes, its quotes doubled); rows end with "\n".
 * Numbers are printed with %.6g in the C locale. Undefined values are EMPTY fields: NaN (and any
 * non-finite value), a pointing game of -1, a maximum at -1, a cluster of -1, a model class of -1,
 * and every explanation field (predicted .. cluster) of an image that was not explained.
 *
 * images.csv columns:
 *   path, label (the dataset class name), label_index (that class's model class), status (ok |
 *   error), error, note, width, height, predicted, predicted_name, probability, correct (0/1),
 *   target, target_name, mass, inside, pointing (1/0), point_distance, max_x, max_y, object_area,
 *   border, one column per user region (its name, in the given order: the share of the mass in
 *   it), cluster (the SpRAy cluster within the image's class).
 * classes.csv columns:
 *   class, model_class, images, explained, errors (images - explained), accuracy, inside_mean,
 *   inside_sd, pointing_rate, border_mean, border_sd, <region>_mean, <region>_sd per region,
 *   outside_share, spray_k and eigengap (empty when nothing of the class was explained), suspicion,
 *   flagged (0/1), reason, error.
 *
 * Both files are written under temporary names in DIR (.images.csv.tmp, .classes.csv.tmp); every
 * write and the close are checked; they are renamed into place only when both are complete, and
 * removed on any failure, so a full disk never leaves a truncated file under a final name. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_output.h"
#include "cli.h"
#include "safe_file.h"

typedef gm_safe_file csv_out;

static void csv_raw(csv_out *o, const char *s) { gm_safe_file_puts(o, s); }

static void csv_char(csv_out *o, char ch) { gm_safe_file_write(o, &ch, 1); }

/* A text field, RFC 4180 quoted when needed; NULL is an empty field. `sep` precedes it unless 0. */
static void csv_text(csv_out *o, const char *text, int sep) {
    const char *s = text ? text : "";
    if (sep) csv_char(o, ',');
    if (!strpbrk(s, ",\"\r\n")) {
        csv_raw(o, s);
        return;
    }
    csv_char(o, '"');
    for (; *s; ++s) {
        if (*s == '"') csv_char(o, '"');
        csv_char(o, *s);
    }
    csv_char(o, '"');
}

static void csv_int(csv_out *o, long long v) {
    char buf[32];
    snprintf(buf, sizeof buf, ",%lld", v);
    csv_raw(o, buf);
}

/* An integer that is undefined (empty) when negative. */
static void csv_index(csv_out *o, long long v) {
    if (v < 0) csv_char(o, ',');
    else csv_int(o, v);
}

static void csv_num(csv_out *o, double v) {
    char buf[48];
    if (!isfinite(v)) {
        csv_char(o, ',');
        return;
    }
    snprintf(buf, sizeof buf, ",%.6g", v);
    csv_raw(o, buf);
}

static void csv_empty(csv_out *o, int n) {
    for (int i = 0; i < n; ++i) csv_char(o, ',');
}

static const char *model_name(const gm_audit *a, int cls) {
    if (!a->model_class_names || cls < 0 || cls >= a->n_model_classes) return "";
    return a->model_class_names[cls] ? a->model_class_names[cls] : "";
}

static void write_images(csv_out *o, const gm_audit *a) {
    csv_raw(o, "path,label,label_index,status,error,note,width,height,predicted,predicted_name,probability,"
               "correct,target,target_name,mass,inside,pointing,point_distance,max_x,max_y,object_area,border");
    for (int r = 0; r < a->n_regions; ++r) csv_text(o, a->regions[r].name, 1);
    csv_raw(o, ",cluster\n");
    for (int i = 0; i < a->n_images && !o->failed; ++i) {
        const gm_audit_image *im = &a->images[i];
        const gm_audit_class *cl = &a->classes[im->cls];
        const gm_audit_metrics *m = &im->m;
        csv_text(o, im->path, 0);
        csv_text(o, cl->name, 1);
        csv_index(o, cl->model_class);
        csv_raw(o, im->ok ? ",ok" : ",error");
        csv_text(o, im->error, 1);
        csv_text(o, im->note, 1);
        csv_int(o, im->width);
        csv_int(o, im->height);
        if (!im->ok) {
            /* predicted .. border, the regions and the cluster: nothing was explained */
            csv_empty(o, 14 + a->n_regions + 1);
            csv_char(o, '\n');
            continue;
        }
        csv_index(o, im->predicted);
        csv_text(o, model_name(a, im->predicted), 1);
        csv_num(o, im->probability);
        csv_int(o, im->correct ? 1 : 0);
        csv_index(o, im->target);
        csv_text(o, model_name(a, im->target), 1);
        csv_num(o, m->mass);
        csv_num(o, m->inside);
        csv_index(o, m->pointing);
        csv_num(o, m->point_distance);
        csv_index(o, m->max_x);
        csv_index(o, m->max_y);
        csv_num(o, m->object_area);
        csv_num(o, m->border);
        for (int r = 0; r < a->n_regions; ++r) csv_num(o, m->regions[r]);
        csv_index(o, im->cluster);
        csv_char(o, '\n');
    }
}

static void write_classes(csv_out *o, const gm_audit *a) {
    csv_raw(o, "class,model_class,images,explained,errors,accuracy,inside_mean,inside_sd,pointing_rate,"
               "border_mean,border_sd");
    for (int r = 0; r < a->n_regions; ++r) {
        char name[GM_AUDIT_NAME_MAX + 8];
        snprintf(name, sizeof name, "%s_mean", a->regions[r].name);
        csv_text(o, name, 1);
        snprintf(name, sizeof name, "%s_sd", a->regions[r].name);
        csv_text(o, name, 1);
    }
    csv_raw(o, ",outside_share,spray_k,eigengap,suspicion,flagged,reason,error\n");
    for (int j = 0; j < a->n_classes && !o->failed; ++j) {
        const gm_audit_class *c = &a->classes[a->class_order[j]];
        csv_text(o, c->name, 0);
        csv_index(o, c->model_class);
        csv_int(o, c->n_images);
        csv_int(o, c->n_explained);
        csv_int(o, c->n_images - c->n_explained);
        csv_num(o, c->accuracy);
        csv_num(o, c->inside.mean);
        csv_num(o, c->inside.sd);
        csv_num(o, c->pointing.mean);
        csv_num(o, c->border.mean);
        csv_num(o, c->border.sd);
        for (int r = 0; r < a->n_regions; ++r) {
            csv_num(o, c->regions[r].mean);
            csv_num(o, c->regions[r].sd);
        }
        csv_num(o, c->outside_share);
        if (c->spray.n > 0) {
            csv_int(o, c->spray.k);
            csv_num(o, c->spray.eigengap);
        } else {
            csv_empty(o, 2);
        }
        csv_num(o, c->suspicion);
        csv_int(o, c->flagged ? 1 : 0);
        csv_text(o, c->reason, 1);
        csv_text(o, c->error, 1);
        csv_char(o, '\n');
    }
}

gm_status gm_audit_write_csv(const gm_audit *a, const char *dir) {
    if (!dir || !*dir) return gm_error(GM_ERR_INVALID_ARG, "images.csv: no output folder");
    gm_status valid = gm_audit_check(a);
    if (valid != GM_OK) return gm_error_context(valid, "%s/images.csv", dir);
    char *img = gm_cli_printf("%s/images.csv", dir), *img_tmp = gm_cli_printf("%s/.images.csv.tmp", dir);
    char *cls = gm_cli_printf("%s/classes.csv", dir), *cls_tmp = gm_cli_printf("%s/.classes.csv.tmp", dir);
    gm_safe_file fi = {0}, fc = {0};
    gm_status st = img && img_tmp && cls && cls_tmp ? GM_OK : gm_error(GM_ERR_NOMEM, "%s: out of memory", dir);
    if (st == GM_OK && (st = gm_safe_file_open(&fi, img, img_tmp)) == GM_OK) write_images(&fi, a);
    if (st == GM_OK && (st = gm_safe_file_open(&fc, cls, cls_tmp)) == GM_OK) write_classes(&fc, a);
    /* Both complete before either appears: a failure of one removes the other's temporary file. */
    if (st == GM_OK) st = gm_safe_file_close(&fi);
    if (st == GM_OK) st = gm_safe_file_close(&fc);
    if (st == GM_OK) st = gm_safe_file_rename(&fi);
    if (st == GM_OK) st = gm_safe_file_rename(&fc);
    gm_safe_file_abort(&fi);
    gm_safe_file_abort(&fc);
    free(img), free(img_tmp), free(cls), free(cls_tmp);
    return st;
}
