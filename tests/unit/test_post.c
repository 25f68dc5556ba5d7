/* test_post.c — explanation post-processing (explain/post.h) against tests/fixtures/post/post.h5, made by
 * tests/fixtures/make_post_fixtures.py with OpenCV, TensorFlow, matplotlib and NumPy (the layout is described there).
 *
 * Tolerances and why:
 *  - resize vs OpenCV's own C++ path (cv2 with IPP off) and vs tf.image.resize: bit-exact (atol 0).
 *    kernels/post_math.h repeats each library's float32 operations in order, under -ffp-contract=off.
 *    One exception, 20x20 -> 10x10: OpenCV turns an exact 2x downscale into INTER_AREA, the same
 *    four-pixel average summed in another order: atol 5e-7 (4 ulp of the O(1) inputs).
 *  - resize vs cv2 as the wheel ships it (IPP on): atol 3e-5. IPP computes sampling coordinates its
 *    own way (~1e-6 relative); times the local slope of an N(0,1) map (a few units a pixel) that is a
 *    few 1e-6 (measured max ~8e-6).
 *  - normalisation vs the seeds' TF / NumPy float32 formulas: bit-exact (same operations).
 *  - colormaps (all 256 table entries and a 5386-value sweep through the index rules) and overlays /
 *    heatmap pictures vs cv2 + NumPy + matplotlib: exact bytes.
 * A NaN fails every comparison; check_wrong_references shows a one-ulp / one-level error is caught. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explain/post.h"
#include "test_support.h"

/* Resize cases of the fixture file: "<h>x<w>_to_<H>x<W>". */
static const char *const k_resize_cases[] = {
    "7x7_to_224x224", "14x14_to_37x23", "14x14_to_23x37", "1x1_to_3x5",     "37x23_to_14x14",
    "50x40_to_17x23", "9x13_to_20x7",   "32x32_to_7x7",   "20x20_to_10x10", "8x6_to_16x12",
    "6x8_to_6x8",     "1x9_to_5x30",    "9x1_to_30x5",
};

#define GM_IPP_ATOL 3e-5
#define GM_AREA_ATOL 5e-7

static const char *g_h5; /* fixture path, set once in main */

static float *read_f(const char *name, int *rank, long long dims[8]) {
    float *x = gm_test_h5_read_floats(g_h5, name, rank, dims);
    if (!x) fprintf(stderr, "  cannot read %s\n", name);
    return x;
}

static size_t count_of(int rank, const long long dims[8]) {
    size_t n = 1;
    for (int i = 0; i < rank; ++i)
        n *= (size_t)dims[i];
    return n;
}

/* Reads a uint8 dataset (read as int32 by the support code) into bytes. */
static uint8_t *read_bytes(const char *name, int *rank, long long dims[8]) {
    int32_t *v = gm_test_h5_read_ints(g_h5, name, rank, dims);
    if (!v) {
        fprintf(stderr, "  cannot read %s\n", name);
        return NULL;
    }
    size_t n = count_of(*rank, dims);
    uint8_t *b = malloc(n ? n : 1);
    if (b)
        for (size_t i = 0; i < n; ++i)
            b[i] = (uint8_t)v[i];
    free(v);
    return b;
}

/* Exact byte comparison; prints the first differences and returns 1 when identical. */
static int same_bytes(const char *what, const uint8_t *got, const uint8_t *ref, size_t n, size_t *mismatches) {
    size_t bad = 0;
    int max_diff = 0;
    for (size_t i = 0; i < n; ++i) {
        int d = abs((int)got[i] - (int)ref[i]);
        if (!d) continue;
        if (bad < 5) fprintf(stderr, "  %s[%zu]: got %d ref %d\n", what, i, got[i], ref[i]);
        if (d > max_diff) max_diff = d;
        ++bad;
    }
    fprintf(stderr, "  %s: n=%zu mismatches=%zu max |diff|=%d\n", what, n, bad, max_diff);
    if (mismatches) *mismatches = bad;
    return bad == 0 && n > 0;
}

static double max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; ++i) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m)) m = d; /* NaN propagates as the worst */
    }
    return m;
}

/* ---- resize ---- */

typedef struct resize_worst {
    double noipp, ipp, tf, area;
} resize_worst;

/* Copies the stored output rows of a full H x W result. */
static void gather_rows(const float *full, int w, const int32_t *rows, size_t nrows, float *out) {
    for (size_t r = 0; r < nrows; ++r)
        memcpy(out + r * (size_t)w, full + (size_t)rows[r] * (size_t)w, (size_t)w * sizeof(float));
}

static void check_resize_case(gm_test_counts *c, const char *name, resize_worst *worst) {
    int h = 0, w = 0, H = 0, W = 0;
    if (sscanf(name, "%dx%d_to_%dx%d", &h, &w, &H, &W) != 4) {
        gm_test_check(c, 0, "resize %s: bad case name", name);
        return;
    }
    char path[160];
    int rank = 0;
    long long dims[8] = {0};
    snprintf(path, sizeof path, "/resize/%s/src", name);
    float *src = read_f(path, &rank, dims);
    int src_ok = src && rank == 2 && dims[0] == h && dims[1] == w;
    snprintf(path, sizeof path, "/resize/%s/rows", name);
    int32_t *rows = gm_test_h5_read_ints(g_h5, path, &rank, dims);
    size_t nrows = rows ? (size_t)dims[0] : 0;
    const char *refs[3] = {"cv2_noipp", "cv2", "tf"};
    float *ref[3] = {NULL, NULL, NULL};
    int refs_ok = 1;
    for (int k = 0; k < 3; ++k) {
        snprintf(path, sizeof path, "/resize/%s/%s", name, refs[k]);
        ref[k] = read_f(path, &rank, dims);
        refs_ok = refs_ok && ref[k] && rank == 2 && (size_t)dims[0] == nrows && dims[1] == W;
    }
    size_t full_n = (size_t)H * (size_t)W, part_n = nrows * (size_t)W;
    float *cv = malloc(full_n * sizeof *cv), *tf = malloc(full_n * sizeof *tf);
    float *cv_rows = malloc(part_n * sizeof *cv_rows + 1), *tf_rows = malloc(part_n * sizeof *tf_rows + 1);
    if (!src_ok || !rows || !refs_ok || !cv || !tf || !cv_rows || !tf_rows) {
        gm_test_check(c, 0, "resize %s: fixture readable", name);
        goto done;
    }
    gm_status s1 = gm_post_resize(src, h, w, cv, H, W, GM_BILINEAR_CV2);
    gm_status s2 = gm_post_resize(src, h, w, tf, H, W, GM_BILINEAR_TF);
    if (s1 != GM_OK || s2 != GM_OK) {
        gm_test_check(c, 0, "resize %s: %s", name, gm_last_error());
        goto done;
    }
    gather_rows(cv, W, rows, nrows, cv_rows);
    gather_rows(tf, W, rows, nrows, tf_rows);
    int area = strcmp(name, "20x20_to_10x10") == 0;
    char what[160];
    snprintf(what, sizeof what, "%s cv2(no IPP)", name);
    gm_test_check(c, gm_test_close(what, cv_rows, ref[0], part_n, area ? GM_AREA_ATOL : 0.0, 0.0),
                  "resize %s: OpenCV style == cv2.resize INTER_LINEAR, OpenCV's own path (%s)", name,
                  area ? "INTER_AREA inside OpenCV: atol 5e-7" : "bit-exact");
    snprintf(what, sizeof what, "%s cv2(IPP)", name);
    gm_test_check(c, gm_test_close(what, cv_rows, ref[1], part_n, GM_IPP_ATOL, 0.0),
                  "resize %s: OpenCV style vs cv2.resize with IPP (atol 3e-5)", name);
    snprintf(what, sizeof what, "%s tf", name);
    gm_test_check(c, gm_test_close(what, tf_rows, ref[2], part_n, 0.0, 0.0),
                  "resize %s: TF style == tf.image.resize bilinear (bit-exact)", name);
    double d0 = max_abs_diff(cv_rows, ref[0], part_n), d1 = max_abs_diff(cv_rows, ref[1], part_n);
    double d2 = max_abs_diff(tf_rows, ref[2], part_n);
    if (area) {
        if (d0 > worst->area) worst->area = d0;
    } else if (d0 > worst->noipp) {
        worst->noipp = d0;
    }
    if (d1 > worst->ipp) worst->ipp = d1;
    if (d2 > worst->tf) worst->tf = d2;
done:
    free(src);
    free(rows);
    for (int k = 0; k < 3; ++k)
        free(ref[k]);
    free(cv);
    free(tf);
    free(cv_rows);
    free(tf_rows);
}

static void check_resize_api(gm_test_counts *c) {
    gm_test_rng rng;
    gm_test_rng_seed(&rng, 7);
    enum { N = 3, h = 5, w = 9, H = 13, W = 4 };
    float src[N * h * w], batch[N * H * W], one[H * W];
    gm_test_fill(&rng, src, N * h * w, -2.0f, 2.0f);
    int ok = 1;
    for (int style = 0; style < 2; ++style) {
        ok = ok && gm_post_resize_batch(src, N, h, w, batch, H, W, (gm_post_bilinear)style) == GM_OK;
        for (int m = 0; m < N && ok; ++m) {
            ok = gm_post_resize(src + m * h * w, h, w, one, H, W, (gm_post_bilinear)style) == GM_OK &&
                 memcmp(one, batch + m * H * W, sizeof one) == 0;
        }
    }
    gm_test_check(c, ok, "resize_batch equals map-by-map resizing, both styles");

    float same[h * w];
    ok = gm_post_resize(src, h, w, same, h, w, GM_BILINEAR_CV2) == GM_OK && memcmp(same, src, sizeof same) == 0;
    gm_test_check(c, ok, "resize to the same size is an exact copy");

    /* A constant map stays constant in the TF formula (lerps of equal values); OpenCV's vertical edge
     * weights (1 - fy) + fy may round, so only the TF style promises it bit for bit. */
    float flat[4 * 4], flat_out[9 * 11];
    for (int i = 0; i < 16; ++i)
        flat[i] = 0.3f;
    ok = gm_post_resize(flat, 4, 4, flat_out, 9, 11, GM_BILINEAR_TF) == GM_OK;
    for (int i = 0; i < 99 && ok; ++i)
        ok = flat_out[i] == 0.3f;
    gm_test_check(c, ok, "TF-style resize of a constant map is that constant");

    gm_status e1 = gm_post_resize(src, 0, w, one, H, W, GM_BILINEAR_CV2);
    gm_status e2 = gm_post_resize(src, h, w, one, H, -1, GM_BILINEAR_CV2);
    gm_status e3 = gm_post_resize(NULL, h, w, one, H, W, GM_BILINEAR_CV2);
    gm_status e4 = gm_post_resize(src, h, w, one, H, W, (gm_post_bilinear)9);
    gm_status e5 = gm_post_resize(src, 1 << 16, 1 << 16, one, H, W, GM_BILINEAR_CV2);
    gm_test_check(c,
                  e1 == GM_ERR_INVALID_ARG && e2 == GM_ERR_INVALID_ARG && e3 == GM_ERR_INVALID_ARG &&
                      e4 == GM_ERR_INVALID_ARG && e5 == GM_ERR_UNSUPPORTED,
                  "resize rejects empty / negative sizes, null maps, unknown styles, > 2^30 pixels: \"%s\"",
                  gm_last_error());
}

/* ---- normalisation ---- */

static void check_norm_fixture(gm_test_counts *c) {
    int rank = 0;
    long long dims[8] = {0};
    float *src = read_f("/norm/src", &rank, dims);
    size_t count = src && rank == 3 ? (size_t)dims[0] : 0, size = src && rank == 3 ? (size_t)(dims[1] * dims[2]) : 0;
    static const struct {
        gm_post_norm mode;
        const char *dataset, *what;
    } k_modes[] = {{GM_NORM_MINMAX, "/norm/minmax_tf", "minmax == the saliency seed's TF min-max"},
                   {GM_NORM_RELU_MAX, "/norm/relu_max_np", "relu-max == the CAM seed's np.maximum(m,0)/np.max(m)"},
                   {GM_NORM_PGC, "/norm/pgc_np", "pgc == pytorch-grad-cam scale_cam_image"}};
    for (size_t k = 0; k < sizeof k_modes / sizeof k_modes[0]; ++k) {
        int r2 = 0;
        long long d2[8] = {0};
        float *ref = read_f(k_modes[k].dataset, &r2, d2);
        float *x = count ? malloc(count * size * sizeof *x) : NULL;
        int ok = ref && x && count_of(r2, d2) == count * size;
        if (ok) {
            memcpy(x, src, count * size * sizeof *x);
            ok = gm_post_normalize_batch(x, count, size, k_modes[k].mode) == GM_OK &&
                 gm_test_close(k_modes[k].dataset, x, ref, count * size, 0.0, 0.0);
        }
        gm_test_check(c, ok, "%s on 4 maps (random, narrow positive, all negative, 1e6 outliers), bit-exact",
                      k_modes[k].what);
        free(ref);
        free(x);
    }
    free(src);
}

static int all_equal(const float *x, size_t n, float v) {
    for (size_t i = 0; i < n; ++i)
        if (!(x[i] == v)) return 0;
    return 1;
}

static int all_in_unit(const float *x, size_t n) {
    for (size_t i = 0; i < n; ++i)
        if (!(x[i] >= 0.0f && x[i] <= 1.0f)) return 0; /* NaN fails */
    return 1;
}

static void check_norm_edges(gm_test_counts *c) {
    enum { n = 12 };
    float x[n];
    const gm_post_norm modes[3] = {GM_NORM_MINMAX, GM_NORM_RELU_MAX, GM_NORM_PGC};
    for (int k = 0; k < 3; ++k) {
        const char *name = gm_post_norm_name(modes[k]);
        for (int i = 0; i < n; ++i)
            x[i] = 0.0f;
        int ok = gm_post_normalize(x, n, modes[k]) == GM_OK && all_equal(x, n, 0.0f);
        gm_test_check(c, ok, "%s: an all-zero map stays zero", name);

        for (int i = 0; i < n; ++i)
            x[i] = -2.5f;
        ok = gm_post_normalize(x, n, modes[k]) == GM_OK && all_equal(x, n, 0.0f);
        gm_test_check(c, ok, "%s: a constant negative map becomes zero", name);

        for (int i = 0; i < n; ++i)
            x[i] = NAN;
        ok = gm_post_normalize(x, n, modes[k]) == GM_OK && all_equal(x, n, 0.0f);
        gm_test_check(c, ok, "%s: an all-NaN map becomes zero", name);

        /* NaN -> 0, +Inf saturates at the finite max (1), -Inf at the finite min. */
        const float bad[n] = {NAN, INFINITY, -INFINITY, 1.0f, 2.0f, 3.0f, 0.5f, 2.5f, 1.5f, NAN, 3.0f, 1.0f};
        memcpy(x, bad, sizeof x);
        ok = gm_post_normalize(x, n, modes[k]) == GM_OK && all_in_unit(x, n) && x[0] == 0.0f && x[9] == 0.0f &&
             x[1] == x[4 + 6] && x[1] > 0.99f && x[2] == (modes[k] == GM_NORM_RELU_MAX ? 0.5f / 3.0f : 0.0f);
        gm_test_check(c, ok, "%s: NaN -> 0, +-Inf saturate, result finite in [0,1] (got +Inf->%g -Inf->%g)", name,
                      (double)x[1], (double)x[2]);

        const float wide[4] = {-3e38f, 3e38f, 0.0f, 1e38f};
        memcpy(x, wide, sizeof wide);
        ok = gm_post_normalize(x, 4, modes[k]) == GM_OK && all_in_unit(x, 4) && x[1] == 1.0f;
        gm_test_check(c, ok, "%s: a range that overflows float32 still gives finite values (%g %g %g %g)", name,
                      (double)x[0], (double)x[1], (double)x[2], (double)x[3]);
    }
    /* A constant positive map: min-max and pgc have no spread (0); relu-max keeps the seed's x/max = 1. */
    for (int i = 0; i < n; ++i)
        x[i] = 4.0f;
    int ok = gm_post_normalize(x, n, GM_NORM_MINMAX) == GM_OK && all_equal(x, n, 0.0f);
    for (int i = 0; i < n; ++i)
        x[i] = 4.0f;
    ok = ok && gm_post_normalize(x, n, GM_NORM_PGC) == GM_OK && all_equal(x, n, 0.0f);
    for (int i = 0; i < n; ++i)
        x[i] = 4.0f;
    ok = ok && gm_post_normalize(x, n, GM_NORM_RELU_MAX) == GM_OK && all_equal(x, n, 1.0f);
    gm_test_check(c, ok, "constant positive map: minmax 0, pgc 0, relu-max 1 (as max(x,0)/max(x))");

    float neg[4] = {-1.0f, -3.0f, -2.0f, -0.5f};
    ok = gm_post_normalize(neg, 4, GM_NORM_RELU_MAX) == GM_OK && all_equal(neg, 4, 0.0f) && !signbit(neg[0]);
    gm_test_check(c, ok, "relu-max: an all-negative map is +0 (NumPy gives -0.0)");

    float keep[3] = {-1.0f, NAN, 5.0f};
    ok = gm_post_normalize(keep, 3, GM_NORM_NONE) == GM_OK && keep[0] == -1.0f && isnan(keep[1]) && keep[2] == 5.0f;
    gm_test_check(c, ok, "none leaves the map untouched");

    float r[5] = {-1.0f, 0.0f, 2.0f, NAN, -INFINITY};
    gm_post_relu(r, 5);
    ok = r[0] == 0.0f && r[1] == 0.0f && r[2] == 2.0f && r[3] == 0.0f && r[4] == 0.0f;
    gm_test_check(c, ok, "relu: negatives and NaN -> 0");

    gm_post_norm m = GM_NORM_NONE;
    gm_status s1 = gm_post_norm_parse("relu-max", &m);
    gm_status s2 = gm_post_norm_parse("l2", &m);
    gm_status s3 = gm_post_normalize(x, n, (gm_post_norm)17);
    gm_status s4 = gm_post_normalize(NULL, n, GM_NORM_MINMAX);
    gm_test_check(c,
                  s1 == GM_OK && m == GM_NORM_RELU_MAX && s2 == GM_ERR_INVALID_ARG && s3 == GM_ERR_INVALID_ARG &&
                      s4 == GM_ERR_INVALID_ARG,
                  "norm names parse; unknown names, modes and null maps are rejected");
    gm_post_norm_parse("l2", &m);
    gm_test_check(c, strstr(gm_last_error(), "none|minmax|relu-max|pgc") != NULL,
                  "an unknown normalisation lists the accepted names: \"%s\"", gm_last_error());
}

/* ---- colormaps ---- */

static void check_colormaps(gm_test_counts *c) {
    int rank = 0;
    long long dims[8] = {0};
    float *values = read_f("/colormap/values", &rank, dims);
    size_t nv = values ? (size_t)dims[0] : 0;
    uint8_t *rgb = malloc(nv * 3 + 1);
    for (int k = 0; k <= GM_COLORMAP_GRAY; ++k) {
        gm_colormap cm = (gm_colormap)k;
        const char *name = gm_post_colormap_name(cm);
        gm_colormap parsed = GM_COLORMAP_JET;
        char path[96], what[96];
        snprintf(path, sizeof path, "/colormap/%s/table", name);
        int r2 = 0;
        long long d2[8] = {0};
        uint8_t *table = read_bytes(path, &r2, d2);
        const uint8_t *ours = gm_post_colormap_table(cm);
        snprintf(what, sizeof what, "%s table", name);
        int ok = table && ours && count_of(r2, d2) == 256 * 3 && same_bytes(what, ours, table, 256 * 3, NULL);
        gm_test_check(c, ok, "%s: all 256 levels equal the reference (%s)", name,
                      cm == GM_COLORMAP_JET ? "cv2.applyColorMap, BGR->RGB"
                                            : (cm == GM_COLORMAP_GRAY ? "identity" : "matplotlib bytes=True"));
        free(table);

        snprintf(path, sizeof path, "/colormap/%s/sweep", name);
        uint8_t *sweep = read_bytes(path, &r2, d2);
        snprintf(what, sizeof what, "%s sweep", name);
        ok = sweep && values && rgb && count_of(r2, d2) == nv * 3 && gm_post_colorize(values, nv, cm, rgb) == GM_OK &&
             same_bytes(what, rgb, sweep, nv * 3, NULL);
        gm_test_check(c, ok, "%s: %zu values through the %s index rule match the reference", name, nv,
                      cm == GM_COLORMAP_JET || cm == GM_COLORMAP_GRAY ? "uint8(255 v)" : "matplotlib int(256 v)");
        free(sweep);

        float nan = NAN;
        uint8_t px[3] = {1, 2, 3};
        ok = ours && gm_post_colorize(&nan, 1, cm, px) == GM_OK && memcmp(px, ours, 3) == 0 &&
             gm_post_colormap_parse(name, &parsed) == GM_OK && parsed == cm;
        gm_test_check(c, ok, "%s: NaN takes the first colour; the name parses back", name);
    }
    uint8_t px[3];
    float v = 0.5f;
    gm_colormap cm = GM_COLORMAP_JET;
    gm_status s1 = gm_post_colormap_parse("rainbow", &cm);
    int listed = strstr(gm_last_error(), "jet|hot|inferno|viridis|gray") != NULL;
    gm_status s2 = gm_post_colorize(&v, 1, (gm_colormap)11, px);
    gm_test_check(
        c, s1 == GM_ERR_INVALID_ARG && listed && s2 == GM_ERR_INVALID_ARG && !gm_post_colormap_table((gm_colormap)11),
        "unknown colormaps are rejected");
    free(values);
    free(rgb);
}

/* ---- heatmap and overlay pictures ---- */

static void check_pictures(gm_test_counts *c) {
    int rank = 0;
    long long dims[8] = {0};
    uint8_t *pixels = read_bytes("/overlay/image", &rank, dims);
    int H = pixels && rank == 3 ? (int)dims[0] : 0, W = pixels && rank == 3 ? (int)dims[1] : 0;
    float *map = read_f("/overlay/map", &rank, dims);
    int mh = map && rank == 2 ? (int)dims[0] : 0, mw = map && rank == 2 ? (int)dims[1] : 0;
    float *heat = read_f("/overlay/heat", &rank, dims);
    size_t n = (size_t)H * (size_t)W * 3;
    uint8_t *out = malloc(n + 1), *out2 = malloc(n + 1);
    float *resized = malloc((size_t)H * (size_t)W * sizeof(float) + 1);
    if (!pixels || !map || !heat || !out || !out2 || !resized || !H || !mh) {
        gm_test_check(c, 0, "overlay fixtures readable");
        goto done;
    }
    gm_image img = {W, H, pixels};

    /* The seed's normalisation, then its picture. */
    float *norm = malloc((size_t)mh * (size_t)mw * sizeof *norm);
    int ok = norm != NULL;
    if (ok) {
        memcpy(norm, map, (size_t)mh * (size_t)mw * sizeof *norm);
        ok = gm_post_normalize(norm, (size_t)mh * (size_t)mw, GM_NORM_RELU_MAX) == GM_OK &&
             gm_test_close("overlay heat", norm, heat, (size_t)mh * (size_t)mw, 0.0, 0.0);
    }
    free(norm);
    gm_test_check(c, ok, "the overlay map normalised by relu-max == np.maximum(m,0)/np.max(m)");

    static const struct {
        const char *dataset;
        int overlay;
        gm_colormap cmap;
        double alpha;
        gm_post_bilinear style;
        const char *what;
    } k_pics[] = {
        {"/overlay/jet_a04", 1, GM_COLORMAP_JET, 0.4, GM_BILINEAR_CV2, "overlay jet alpha 0.4 (the CAM seed's intent)"},
        {"/overlay/viridis_a05", 1, GM_COLORMAP_VIRIDIS, 0.5, GM_BILINEAR_CV2,
         "overlay viridis alpha 0.5 (ties to even)"},
        {"/overlay/heatmap_jet", 0, GM_COLORMAP_JET, 0.0, GM_BILINEAR_CV2, "heatmap picture jet, cv2 resize"},
        {"/overlay/heatmap_jet_tf", 0, GM_COLORMAP_JET, 0.0, GM_BILINEAR_TF, "heatmap picture jet, tf resize"},
    };
    for (size_t k = 0; k < sizeof k_pics / sizeof k_pics[0]; ++k) {
        int r2 = 0;
        long long d2[8] = {0};
        uint8_t *ref = read_bytes(k_pics[k].dataset, &r2, d2);
        gm_status st = k_pics[k].overlay
                           ? gm_post_overlay(heat, mh, mw, &img, k_pics[k].cmap, k_pics[k].alpha, k_pics[k].style, out)
                           : gm_post_heatmap(heat, mh, mw, H, W, k_pics[k].cmap, k_pics[k].style, out);
        ok = ref && count_of(r2, d2) == n && st == GM_OK && same_bytes(k_pics[k].dataset, out, ref, n, NULL);
        gm_test_check(c, ok, "%s == NumPy + cv2%s, exact bytes", k_pics[k].what,
                      k_pics[k].cmap == GM_COLORMAP_VIRIDIS ? " + matplotlib" : "");
        free(ref);
    }

    /* The clamp is exercised: channels where img + 0.4*jet exceeds 255 come out 255. */
    ok = gm_post_heatmap(heat, mh, mw, H, W, GM_COLORMAP_JET, GM_BILINEAR_CV2, out2) == GM_OK &&
         gm_post_overlay(heat, mh, mw, &img, GM_COLORMAP_JET, 0.4, GM_BILINEAR_CV2, out) == GM_OK;
    size_t saturated = 0, wrong = 0;
    for (size_t i = 0; ok && i < n; ++i) {
        if ((double)pixels[i] + 0.4 * (double)out2[i] > 255.5) {
            ++saturated;
            if (out[i] != 255) ++wrong;
        }
    }
    gm_test_check(c, ok && saturated > 1000 && wrong == 0,
                  "overlay saturates at 255, never wraps (%zu channels clamped)", saturated);

    /* heatmap == colorize(resize(map)): the on-the-fly sampling is gm_post_resize's arithmetic. */
    ok = gm_post_resize(heat, mh, mw, resized, H, W, GM_BILINEAR_CV2) == GM_OK &&
         gm_post_colorize(resized, (size_t)H * (size_t)W, GM_COLORMAP_JET, out) == GM_OK && memcmp(out, out2, n) == 0;
    gm_test_check(c, ok, "heatmap picture == colorize(resize(map))");

    /* alpha clamped to [0, 1]; NaN rejected; in place allowed. */
    ok = gm_post_overlay(heat, mh, mw, &img, GM_COLORMAP_JET, 1.0, GM_BILINEAR_CV2, out) == GM_OK &&
         gm_post_overlay(heat, mh, mw, &img, GM_COLORMAP_JET, 7.5, GM_BILINEAR_CV2, out2) == GM_OK &&
         memcmp(out, out2, n) == 0 &&
         gm_post_overlay(heat, mh, mw, &img, GM_COLORMAP_JET, -3.0, GM_BILINEAR_CV2, out2) == GM_OK &&
         memcmp(out2, pixels, n) == 0;
    gm_status e = gm_post_overlay(heat, mh, mw, &img, GM_COLORMAP_JET, NAN, GM_BILINEAR_CV2, out);
    gm_test_check(c, ok && e == GM_ERR_INVALID_ARG,
                  "alpha is clamped to [0,1] (7.5 == 1, -3 == the image); NaN is rejected");

    ok = gm_post_overlay(heat, mh, mw, &img, GM_COLORMAP_JET, 0.4, GM_BILINEAR_CV2, out) == GM_OK;
    memcpy(out2, pixels, n);
    gm_image in_place = {W, H, out2};
    ok = ok && gm_post_overlay(heat, mh, mw, &in_place, GM_COLORMAP_JET, 0.4, GM_BILINEAR_CV2, out2) == GM_OK &&
         memcmp(out, out2, n) == 0;
    gm_test_check(c, ok, "overlay in place (out == image pixels) gives the same picture");

    gm_image none = {W, H, NULL};
    gm_status e1 = gm_post_overlay(heat, mh, mw, &none, GM_COLORMAP_JET, 0.4, GM_BILINEAR_CV2, out);
    gm_status e2 = gm_post_heatmap(heat, 0, mw, H, W, GM_COLORMAP_JET, GM_BILINEAR_CV2, out);
    gm_status e3 = gm_post_heatmap(heat, mh, mw, H, W, (gm_colormap)9, GM_BILINEAR_CV2, out);
    gm_test_check(c, e1 == GM_ERR_INVALID_ARG && e2 == GM_ERR_INVALID_ARG && e3 == GM_ERR_INVALID_ARG,
                  "pictures reject a missing image, an empty map and an unknown colormap");
done:
    free(pixels);
    free(map);
    free(heat);
    free(out);
    free(out2);
    free(resized);
}

/* ---- the comparisons can fail ---- */

static void check_wrong_references(gm_test_counts *c) {
    int rank = 0;
    long long dims[8] = {0};
    float *src = read_f("/resize/14x14_to_37x23/src", &rank, dims);
    float *ref = read_f("/resize/14x14_to_37x23/tf", &rank, dims);
    float out[37 * 23];
    int ok = src && ref && gm_post_resize(src, 14, 14, out, 37, 23, GM_BILINEAR_TF) == GM_OK;
    if (ok) {
        fprintf(stderr, "  (the next comparison is expected to fail)\n");
        ref[100] = nextafterf(ref[100], INFINITY);
        ok = !gm_test_close("tf one ulp off", out, ref, 37 * 23, 0.0, 0.0);
    }
    gm_test_check(c, ok, "a reference moved by one ulp at one value is rejected");

    /* OpenCV's and TF's formulas are not interchangeable at atol 0. */
    float cv[37 * 23];
    ok = src && ref && gm_post_resize(src, 14, 14, cv, 37, 23, GM_BILINEAR_CV2) == GM_OK;
    if (ok) {
        fprintf(stderr, "  (the next comparison is expected to fail)\n");
        ok = !gm_test_close("cv2 style vs tf reference", cv, out, 37 * 23, 0.0, 0.0);
    }
    gm_test_check(c, ok, "the OpenCV-style result is told apart from TF's at the ulp level");
    free(src);
    free(ref);

    uint8_t *pic = read_bytes("/overlay/jet_a04", &rank, dims);
    uint8_t *pixels = read_bytes("/overlay/image", &rank, dims);
    float *heat = read_f("/overlay/heat", &rank, dims);
    ok = pic && pixels && heat;
    if (ok) {
        gm_image img = {80, 60, pixels};
        uint8_t *out_pic = malloc(80 * 60 * 3);
        size_t mismatches = 0;
        ok = out_pic && gm_post_overlay(heat, 7, 7, &img, GM_COLORMAP_JET, 0.4, GM_BILINEAR_CV2, out_pic) == GM_OK;
        if (ok) {
            pic[4321] ^= 1;
            fprintf(stderr, "  (the next comparison is expected to fail)\n");
            ok = !same_bytes("overlay one level off", out_pic, pic, 80 * 60 * 3, &mismatches) && mismatches == 1;
        }
        free(out_pic);
    }
    gm_test_check(c, ok, "an overlay reference off by one level at one channel is rejected");
    free(pic);
    free(pixels);
    free(heat);
}

int main(void) {
    gm_test_counts c = {0, 0};
    char *h5 = gm_test_source_path("tests/fixtures/post/post.h5");
    if (!h5 || !gm_test_file_exists(h5)) {
        fprintf(stderr, "SKIP: %s not found (run tests/fixtures/make_post_fixtures.py)\n", h5 ? h5 : "?");
        free(h5);
        return 77;
    }
    g_h5 = h5;
    char *v_cv = gm_test_h5_read_string_attr(h5, "/", "opencv_version");
    char *v_tf = gm_test_h5_read_string_attr(h5, "/", "tensorflow_version");
    char *v_mpl = gm_test_h5_read_string_attr(h5, "/", "matplotlib_version");
    fprintf(stderr, "fixtures: OpenCV %s, TensorFlow %s, matplotlib %s\n", v_cv ? v_cv : "?", v_tf ? v_tf : "?",
            v_mpl ? v_mpl : "?");
    free(v_cv);
    free(v_tf);
    free(v_mpl);

    resize_worst worst = {0, 0, 0, 0};
    for (size_t i = 0; i < sizeof k_resize_cases / sizeof k_resize_cases[0]; ++i)
        check_resize_case(&c, k_resize_cases[i], &worst);
    fprintf(stderr,
            "resize max |diff|: vs cv2 (no IPP) %.3g, vs cv2 2x INTER_AREA %.3g, vs cv2 (IPP) %.3g, vs tf %.3g\n",
            worst.noipp, worst.area, worst.ipp, worst.tf);
    check_resize_api(&c);
    check_norm_fixture(&c);
    check_norm_edges(&c);
    check_colormaps(&c);
    check_pictures(&c);
    check_wrong_references(&c);
    free(h5);
    return gm_test_summary(&c);
}
