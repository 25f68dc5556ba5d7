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
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_output.h"

typedef struct csv_out {
    FILE *f;
    int err; /* first errno seen, 0 while all is well */
} csv_out;

static void csv_raw(csv_out *o, const char *s) {
    if (o->err) return;
    errno = 0;
    if (fputs(s, o->f) == EOF) o->err = errno ? errno : EIO;
}

static void csv_char(csv_out *o, char ch) {
    if (o->err) return;
    errno = 0;
    if (fputc(ch, o->f) == EOF) o->err = errno ? errno : EIO;
}

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
    for (int i = 0; i < a->n_images && !o->err; ++i) {
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
    for (int j = 0; j < a->n_classes && !o->err; ++j) {
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

static char *join_path(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Writes one file to `tmp` with `fill`; on failure the temporary file is removed. */
static gm_status write_one(const char *final, const char *tmp, const gm_audit *a,
                           void (*fill)(csv_out *, const gm_audit *)) {
    errno = 0;
    csv_out o = {fopen(tmp, "w"), 0};
    if (!o.f) return gm_error(GM_ERR_IO, "%s: cannot create %s: %s", final, tmp, strerror(errno ? errno : EIO));
    fill(&o, a);
    errno = 0;
    if (!o.err && fflush(o.f) != 0) o.err = errno ? errno : EIO;
    errno = 0;
    if (fclose(o.f) != 0 && !o.err) o.err = errno ? errno : EIO;
    if (o.err) {
        remove(tmp);
        return gm_error(GM_ERR_IO, "%s: cannot write %s: %s", final, tmp, strerror(o.err));
    }
    return GM_OK;
}

/* The checks every writer needs before touching the audit's arrays. */
static gm_status check_audit(const gm_audit *a, const char *dir) {
    if (!a || !dir || !*dir) return gm_error(GM_ERR_INVALID_ARG, "audit csv: no audit or no output folder");
    if (a->n_images < 0 || a->n_classes < 0 || a->n_regions < 0 || a->n_regions > GM_AUDIT_MAX_REGIONS ||
        (a->n_images > 0 && !a->images) || (a->n_classes > 0 && (!a->classes || !a->class_order)))
        return gm_error(GM_ERR_INVALID_ARG, "%s: the audit is incomplete (not summarised?)", dir);
    for (int i = 0; i < a->n_images; ++i)
        if (a->images[i].cls < 0 || a->images[i].cls >= a->n_classes)
            return gm_error(GM_ERR_INVALID_ARG, "%s: image %d (%s) has class index %d of %d", dir, i,
                            a->images[i].path ? a->images[i].path : "", a->images[i].cls, a->n_classes);
    for (int j = 0; j < a->n_classes; ++j)
        if (a->class_order[j] < 0 || a->class_order[j] >= a->n_classes)
            return gm_error(GM_ERR_INVALID_ARG, "%s: class_order[%d] = %d is not a class index (of %d)", dir, j,
                            a->class_order[j], a->n_classes);
    return GM_OK;
}

gm_status gm_audit_write_csv(const gm_audit *a, const char *dir) {
    GM_TRY(check_audit(a, dir));
    char *img = join_path(dir, "images.csv"), *img_tmp = join_path(dir, ".images.csv.tmp");
    char *cls = join_path(dir, "classes.csv"), *cls_tmp = join_path(dir, ".classes.csv.tmp");
    gm_status st = GM_OK;
    if (!img || !img_tmp || !cls || !cls_tmp) st = gm_error(GM_ERR_NOMEM, "%s: out of memory", dir);
    if (st == GM_OK) st = write_one(img, img_tmp, a, write_images);
    if (st == GM_OK) {
        st = write_one(cls, cls_tmp, a, write_classes);
        if (st != GM_OK) remove(img_tmp);
    }
    if (st == GM_OK && rename(img_tmp, img) != 0) {
        st = gm_error(GM_ERR_IO, "%s: cannot rename %s into place: %s", img, img_tmp, strerror(errno ? errno : EIO));
        remove(img_tmp);
        remove(cls_tmp);
    }
    if (st == GM_OK && rename(cls_tmp, cls) != 0) {
        st = gm_error(GM_ERR_IO, "%s: cannot rename %s into place: %s", cls, cls_tmp, strerror(errno ? errno : EIO));
        remove(cls_tmp);
    }
    free(img);
    free(img_tmp);
    free(cls);
    free(cls_tmp);
    return st;
}
