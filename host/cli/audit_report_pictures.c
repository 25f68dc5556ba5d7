/* audit_report_pictures.c — the PNG pictures of the audit report (audit_report_internal.h):
 * class- and cluster-mean heatmaps, and per-image overlays of the audit map on the re-read image.
 * File names are built from indices only. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_report_internal.h"
#include "cli.h"
#include "host/image.h"
#include "host/png_write.h"

#define GM_RP_MAP_MIN_SIDE 128

gm_status gm_rp_pictures_init(gm_rp_pictures *p, const gm_audit *a, const gm_audit_report_options *o,
                              const char *pic_dir) {
    memset(p, 0, sizeof *p);
    p->a = a;
    p->o = o;
    size_t n = a->n_images > 0 ? (size_t)a->n_images : 1;
    p->pic_dir = strdup(pic_dir);
    p->done = calloc(n, 1);
    p->why = calloc(n, sizeof *p->why);
    if (!p->pic_dir || !p->done || !p->why) {
        gm_rp_pictures_free(p);
        return gm_error(GM_ERR_NOMEM, "%s: out of memory for the report's pictures", pic_dir);
    }
    return GM_OK;
}

void gm_rp_pictures_free(gm_rp_pictures *p) {
    if (p->why)
        for (int i = 0; i < p->a->n_images; ++i) free(p->why[i]);
    free(p->why);
    free(p->done);
    free(p->pic_dir);
    memset(p, 0, sizeof *p);
}

gm_status gm_rp_map_png(gm_rp_pictures *p, const float *map, const char *name) {
    const gm_audit *a = p->a;
    int h = a->map_h, w = a->map_w;
    size_t n = (size_t)h * (size_t)w;
    int longer = h > w ? h : w;
    double scale = longer < GM_RP_MAP_MIN_SIDE ? (double)GM_RP_MAP_MIN_SIDE / longer : 1.0;
    int oh = (int)ceil(h * scale - 1e-9), ow = (int)ceil(w * scale - 1e-9);
    if (oh < 1) oh = 1;
    if (ow < 1) ow = 1;
    float *scaled = malloc(n * sizeof *scaled);
    uint8_t *rgb = malloc((size_t)oh * (size_t)ow * 3);
    char *path = gm_cli_printf("%s/%s", p->pic_dir, name);
    gm_status st = GM_OK;
    if (!scaled || !rgb || !path) {
        st = gm_error(GM_ERR_NOMEM, "%s/%s: out of memory", p->pic_dir, name);
        goto done;
    }
    float mx = 0.0f;
    for (size_t i = 0; i < n; ++i)
        if (isfinite(map[i]) && map[i] > mx) mx = map[i];
    for (size_t i = 0; i < n; ++i) {
        float v = isfinite(map[i]) && map[i] > 0.0f ? map[i] : 0.0f;
        scaled[i] = mx > 0.0f ? v / mx : 0.0f;
    }
    st = gm_post_heatmap(scaled, h, w, oh, ow, p->o->colormap, GM_BILINEAR_CV2, rgb);
    if (st != GM_OK) st = gm_error_context(st, "%s: ", path);
    if (st == GM_OK) st = gm_png_write(path, rgb, ow, oh, 3);
done:
    free(path);
    free(rgb);
    free(scaled);
    return st;
}

static void gm_rp_remember_unreadable(gm_rp_pictures *p, int idx, const char *why) {
    p->done[idx] = 2;
    p->why[idx] = strdup(why && why[0] ? why : "unknown reason");
}

gm_status gm_rp_overlay(gm_rp_pictures *p, int idx, const char **why) {
    const gm_audit *a = p->a;
    *why = NULL;
    if (p->done[idx] == 2) {
        *why = p->why[idx] ? p->why[idx] : "out of memory";
        return GM_OK;
    }
    if (p->done[idx] == 1) return GM_OK;
    const gm_audit_image *im = &a->images[idx];
    if (!a->maps || a->map_h <= 0 || a->map_w <= 0 || !im->path) {
        gm_rp_remember_unreadable(p, idx, !im->path ? "no path" : "the audit holds no maps");
        *why = p->why[idx] ? p->why[idx] : "out of memory";
        return GM_OK;
    }
    gm_image img = {0}, small = {0};
    gm_status st = gm_image_load(im->path, &img);
    if (st != GM_OK) {
        gm_rp_remember_unreadable(p, idx, gm_last_error());
        gm_clear_error();
        *why = p->why[idx] ? p->why[idx] : "out of memory";
        return GM_OK;
    }
    /* Thumbnails: a large photo is reduced first so that the report stays small. */
    int longer = img.width > img.height ? img.width : img.height;
    gm_image *use = &img;
    if (longer > GM_RP_OVERLAY_MAX_SIDE) {
        double s = (double)GM_RP_OVERLAY_MAX_SIDE / longer;
        int w = (int)(img.width * s + 0.5), h = (int)(img.height * s + 0.5);
        st = gm_image_resize(&img, w < 1 ? 1 : w, h < 1 ? 1 : h, GM_RESIZE_BILINEAR, &small);
        use = &small;
    }
    char name[64];
    snprintf(name, sizeof name, "img%d_overlay.png", idx);
    char *path = gm_cli_printf("%s/%s", p->pic_dir, name);
    if (st == GM_OK && !path) st = gm_error(GM_ERR_NOMEM, "%s/%s: out of memory", p->pic_dir, name);
    const float *map = a->maps + (size_t)idx * (size_t)a->map_h * (size_t)a->map_w;
    if (st == GM_OK) {
        st = gm_post_overlay(map, a->map_h, a->map_w, use, p->o->colormap, p->o->alpha, GM_BILINEAR_CV2, use->rgb);
        if (st != GM_OK) st = gm_error_context(st, "%s: ", path);
    }
    if (st == GM_OK) st = gm_png_write(path, use->rgb, use->width, use->height, 3);
    if (st == GM_OK) p->done[idx] = 1;
    free(path);
    gm_image_free(&small);
    gm_image_free(&img);
    return st;
}
