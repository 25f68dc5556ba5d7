/* test_audit_summary.c — gm_audit_summarize (explain/audit_summary.c): per-class statistics, the
 * dataset baseline, class-mean maps, SpRAy clusters and the shortcut flag of explain/audit.h, on a
 * synthetic audit whose answer is known by construction:
 *   class "clean" (20 images): every map a blob at the object, in-object mass 0.8, region mass 0.01;
 *   class "hans"  (26 images): 14 maps a blob in the corner region (in-object 0.05, region 0.85) and
 *                   12 like "clean" (in-object 0.8), interleaved (each group has more than knn = 10
 *                   other members, so no image needs a neighbour from the other group);
 *   class "none"  (no images) and one failed image of "clean" (excluded everywhere).
 * Expected: baseline = median in-object mass = 0.8 (32 of 46 values are 0.8); "hans" flagged by a
 * 14-member cluster that is off the object (0.05 < 0.5 x 0.8) and mostly in the region (0.85 >=
 * 0.5), its clusters equal to the planted halves; "clean" not flagged (k = 1 or no off-object
 * cluster); "hans" first in class_order. Means, spreads and accuracies are checked against values
 * computed here in double from the same inputs (tolerance 1e-12: the same sums in another order);
 * the class-mean map against a direct average (1e-6: float storage). Also the bounded SpRAy of large
 * classes (max_images), and the region criterion alone when there are no object annotations. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explain/audit.h"
#include "test_support.h"

#define MAP 16
#define N_CLEAN 20
#define N_HANS 26
#define N_IMAGES (N_CLEAN + 1 + N_HANS)

static char *dup_str(const char *s) {
    char *d = malloc(strlen(s) + 1);
    if (d) strcpy(d, s);
    return d;
}

/* A Gaussian blob at (cx, cy) of width s plus small deterministic noise, scaled to max 1. */
static void blob(float *m, double cx, double cy, double s, gm_test_rng *rng) {
    float peak = 0;
    for (int y = 0; y < MAP; ++y)
        for (int x = 0; x < MAP; ++x) {
            double d2 = (x - cx) * (x - cx) + (y - cy) * (y - cy);
            m[y * MAP + x] = (float)(exp(-d2 / (2 * s * s)) + 0.02 * gm_test_rng_uniform(rng));
            if (m[y * MAP + x] > peak) peak = m[y * MAP + x];
        }
    for (int p = 0; p < MAP * MAP; ++p) m[p] /= peak;
}

static void set_image(gm_audit *a, int i, int cls, int corner, int correct, gm_test_rng *rng) {
    gm_audit_image *im = &a->images[i];
    char path[64];
    snprintf(path, sizeof path, "img%02d.png", i);
    im->path = dup_str(path);
    im->cls = cls, im->ok = 1, im->width = im->height = MAP;
    im->predicted = correct ? cls : 1 - cls, im->target = cls, im->correct = correct, im->has_object = 1;
    im->probability = 0.9f;
    im->m.mass = 10.0;
    im->m.inside = corner ? 0.05 : 0.8;
    im->m.pointing = corner ? 0 : 1;
    im->m.point_distance = corner ? 20.0 : 0.0;
    im->m.border = corner ? 0.6 : 0.1;
    im->m.regions[0] = corner ? 0.85 : 0.01;
    im->m.object_area = 0.25;
    double j = gm_test_rng_uniform(rng) - 0.5;
    if (corner) blob(a->maps + (size_t)i * MAP * MAP, 14 + 0.5 * j, 14 + 0.5 * j, 1.5, rng);
    else blob(a->maps + (size_t)i * MAP * MAP, 7 + j, 7 - j, 3.0, rng);
}

static void build(gm_audit *a) {
    memset(a, 0, sizeof *a);
    gm_spray_config_default(&a->spray_config);
    gm_audit_metric_options_default(&a->metric_options);
    a->n_regions = 1;
    gm_audit_region_parse("watermark=12,12,16,16", &a->regions[0]);
    a->has_objects = 1;
    a->map_h = a->map_w = MAP;
    a->n_classes = 3;
    a->classes = calloc(3, sizeof *a->classes);
    const char *names[] = {"clean", "hans", "none"};
    for (int c = 0; c < 3; ++c) a->classes[c].name = dup_str(names[c]), a->classes[c].model_class = c;
    a->n_images = N_IMAGES;
    a->images = calloc(N_IMAGES, sizeof *a->images);
    a->maps = calloc((size_t)N_IMAGES * MAP * MAP, sizeof *a->maps);
    gm_test_rng rng;
    gm_test_rng_seed(&rng, 7);
    for (int i = 0; i < N_CLEAN; ++i) set_image(a, i, 0, 0, i % 10 != 0, &rng);
    /* a failed image of "clean": must not count anywhere */
    gm_audit_image *bad = &a->images[N_CLEAN];
    bad->path = dup_str("broken.png"), bad->cls = 0, bad->error = dup_str("undecodable"), bad->cluster = -1;
    bad->m.inside = 0.0, bad->m.regions[0] = 1.0;
    for (int j = 0; j < N_HANS; ++j) {
        int corner = (j % 13) < 7; /* 14 of 26, interleaved; each group larger than knn + 1 */
        set_image(a, N_CLEAN + 1 + j, 1, corner, corner ? 1 : j % 2, &rng);
    }
}

/* Mean and population sd of the in-object mass of class c's explained images, in double. */
static void reference_inside(const gm_audit *a, int c, double *mean, double *sd) {
    double s = 0, s2 = 0;
    int n = 0;
    for (int i = 0; i < a->n_images; ++i)
        if (a->images[i].cls == c && a->images[i].ok) s += a->images[i].m.inside, s2 += a->images[i].m.inside * a->images[i].m.inside, ++n;
    *mean = s / n;
    *sd = sqrt(fmax(s2 / n - *mean * *mean, 0));
}

int main(void) {
    gm_test_counts tc = {0, 0};
    gm_audit a;
    build(&a);
    gm_status st = gm_audit_summarize(&a);
    gm_test_check(&tc, st == GM_OK, "gm_audit_summarize succeeds (%s)", st == GM_OK ? "ok" : gm_last_error());
    if (st != GM_OK) return gm_test_summary(&tc);
    const gm_audit_class *clean = &a.classes[0], *hans = &a.classes[1], *none = &a.classes[2];

    gm_test_check(&tc, fabs(a.baseline_inside - 0.8) < 1e-15, "baseline (median in-object mass) %.6f == 0.8", a.baseline_inside);
    gm_test_check(&tc, clean->n_images == N_CLEAN + 1 && clean->n_explained == N_CLEAN,
                  "clean: %d listed, %d explained (the failed image is listed, not explained)", clean->n_images,
                  clean->n_explained);
    gm_test_check(&tc, fabs(clean->accuracy - 18.0 / 20) < 1e-15, "clean accuracy %.4f == 18/20", clean->accuracy);
    double m, sd;
    reference_inside(&a, 1, &m, &sd);
    gm_test_check(&tc, fabs(hans->inside.mean - m) < 1e-12 && fabs(hans->inside.sd - sd) < 1e-12 && hans->inside.n == 26,
                  "hans in-object mass %.6f +- %.6f (reference %.6f +- %.6f)", hans->inside.mean, hans->inside.sd, m, sd);
    gm_test_check(&tc, fabs(hans->outside_share - 14.0 / 26) < 1e-15, "hans share mostly outside %.4f == 14/26",
                  hans->outside_share);
    gm_test_check(&tc, fabs(clean->regions[0].mean - 0.01) < 1e-12, "clean region mean %.6f == 0.01 (failed image excluded)",
                  clean->regions[0].mean);

    /* class-mean map of "clean" against a direct average */
    float ref[MAP * MAP];
    for (int p = 0; p < MAP * MAP; ++p) {
        double s = 0;
        for (int i = 0; i < N_CLEAN; ++i) s += a.maps[(size_t)i * MAP * MAP + p];
        ref[p] = (float)(s / N_CLEAN);
    }
    gm_test_check(&tc, clean->mean_map && gm_test_close("clean mean map", clean->mean_map, ref, MAP * MAP, 1e-6, 0),
                  "clean class-mean map is the average of its maps");

    /* SpRAy on "hans": the planted halves, the off-object cluster flags the class */
    int truth[N_HANS], got[N_HANS];
    for (int j = 0; j < N_HANS; ++j) truth[j] = (j % 13) < 7, got[j] = a.images[N_CLEAN + 1 + j].cluster;
    double ari = gm_spray_adjusted_rand(truth, got, N_HANS);
    printf("  hans: k = %d, ARI vs planted %.4f, eigengap %.4f\n", hans->spray.k, ari, hans->spray.eigengap);
    gm_test_check(&tc, hans->spray.k == 2 && ari >= 0.9, "hans: SpRAy finds k = 2 (%d) matching the planted halves (ARI %.3f)",
                  hans->spray.k, ari);
    gm_test_check(&tc, hans->flagged == 1, "hans is flagged (%s)", hans->reason);
    int off = -1;
    for (int k = 0; k < hans->spray.k; ++k)
        if (hans->clusters[k].off_object) off = k;
    gm_test_check(&tc, off >= 0 && hans->clusters[off].size == 14 && hans->clusters[off].qualifies &&
                           fabs(hans->clusters[off].regions[0].mean - 0.85) < 1e-12 &&
                           fabs(hans->clusters[off].accuracy - 1.0) < 1e-15,
                  "the off-object cluster has the 14 corner images, region mass 0.85, accuracy 1");
    gm_test_check(&tc, strstr(hans->reason, "in-object mass 0.05") != NULL && strstr(hans->reason, "14 of 26") != NULL,
                  "the reason names the cluster and its largest off-object term: %s", hans->reason);
    gm_test_check(&tc, fabs(hans->suspicion - 0.9375) < 1e-12,
                  "hans suspicion %.4f == 1 - 0.05 / 0.8 (larger than its region share 0.85)", hans->suspicion);
    gm_test_check(&tc, clean->flagged == 0, "clean is not flagged (k = %d, suspicion %.3f)", clean->spray.k, clean->suspicion);
    gm_test_check(&tc, none->n_images == 0 && none->n_explained == 0 && none->mean_map == NULL && !none->flagged,
                  "the class without images has no statistics and no flag");
    gm_test_check(&tc, a.n_flagged == 1 && a.class_order[0] == 1, "one class flagged, and it comes first (order %d %d %d)",
                  a.class_order[0], a.class_order[1], a.class_order[2]);
    gm_test_check(&tc, a.images[N_CLEAN].cluster == -1, "the failed image has no cluster");

    /* Summarising again gives the same answer (state is replaced, not accumulated). */
    int k_before = hans->spray.k, flagged_before = a.n_flagged;
    st = gm_audit_summarize(&a);
    gm_test_check(&tc, st == GM_OK && hans->spray.k == k_before && a.n_flagged == flagged_before,
                  "a second summary gives the same clusters and flags");

    /* Above max_images a class is clustered on an evenly spaced subset and the rest join the nearest
     * cluster mean. With 24 of hans's 26 maps clustered, rows 12 and 25 are left out (row j * 26 / 24
     * is kept), both blobs at the object: each must join the cluster holding most of the other
     * object-blob maps. (The subset's clusters themselves are SpRAy's business, tested above.) */
    a.spray_config.max_images = 24;
    st = gm_audit_summarize(&a);
    int votes[8] = {0}, majority = 0;
    for (int j = 0; j < N_HANS; ++j)
        if (!truth[j] && j != 12 && j != 25 && a.images[N_CLEAN + 1 + j].cluster >= 0 && a.images[N_CLEAN + 1 + j].cluster < 8)
            ++votes[a.images[N_CLEAN + 1 + j].cluster];
    for (int k = 1; k < 8; ++k)
        if (votes[k] > votes[majority]) majority = k;
    gm_test_check(&tc, st == GM_OK && hans->spray.n == N_HANS && a.images[N_CLEAN + 1 + 12].cluster == majority &&
                           a.images[N_CLEAN + 1 + 25].cluster == majority && hans->flagged,
                  "max_images 24: all %d maps labelled (%d); the 2 left out join the object-blob cluster %d (%d, %d)",
                  N_HANS, hans->spray.n, majority, a.images[N_CLEAN + 1 + 12].cluster, a.images[N_CLEAN + 1 + 25].cluster);
    a.spray_config.max_images = 2000;

    /* Without object annotations only the region criterion can flag; it still does here. */
    for (int i = 0; i < a.n_images; ++i) a.images[i].m.inside = NAN, a.images[i].has_object = 0;
    a.has_objects = 0;
    st = gm_audit_summarize(&a);
    gm_test_check(&tc, st == GM_OK && isnan(a.baseline_inside) && hans->flagged && !clean->flagged,
                  "without objects the region criterion still flags hans only (baseline NaN)");
    gm_test_check(&tc, strstr(hans->reason, "region 'watermark'") != NULL, "... naming the region: %s", hans->reason);
    gm_test_check(&tc, fabs(hans->suspicion - 0.85) < 1e-12, "... with suspicion = its region share %.4f", hans->suspicion);
    gm_audit_free(&a);
    return gm_test_summary(&tc);
}
