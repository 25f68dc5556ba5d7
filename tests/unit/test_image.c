/* test_image.c — image decoding, Pillow-identical resizing and Keras preprocessing against the
 * committed fixtures of tests/fixtures/images/ (made by make_image_fixtures.py with Keras's own
 * load_img / img_to_array / preprocess_input; expected.h5's layout is described there).
 *
 * Tolerances and why:
 *  - PNG, BMP, GIF: decode, NEAREST and BILINEAR are bit-exact (atol 0). Lossless formats leave
 *    nothing to disagree about and the resizers replicate Pillow's integer arithmetic.
 *  - JPEG: stb_image's IDCT, chroma upsampling and YCbCr->RGB rounding differ from libjpeg-turbo's
 *    (ISLOW, fancy upsampling) used by Pillow, so decoded pixels differ by a few levels. We assert
 *    max |diff| <= GM_JPEG_MAX_DIFF after decoding and after either resize (the resizers are
 *    weighted means with weights summing to one, so they do not amplify the decoder's error beyond
 *    one rounding level), and separately that resizing Pillow's OWN decoded pixels is bit-exact.
 *  - caffe / tf / torch preprocessing: bit-exact (0 ulp). Keras runs each step as one float32
 *    NumPy operation with float32 constants; kernels/preprocess_math.h does the same operations
 *    in the same order under -ffp-contract=off, and IEEE float32 + - / are correctly rounded.
 * Every image value 0..255 appears in every channel of ramp_16x16.png, so the preprocessing check
 * covers the whole input domain. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "host/image.h"
#include "test_support.h"

/* Measured on the committed 4:2:0 / greyscale JPEGs (stb 2.27 vs Pillow 13's libjpeg-turbo):
 * max 2 (baseline), 3 (progressive), 1 (grey). An offline sweep of 54 photo-like 333..640-pixel
 * JPEGs (quality 50/75/95, baseline and progressive) gave <= 3 for 4:4:4 and 4:2:0, and <= 3 in
 * the interior of 4:2:2 images, whose last one or two columns differ by up to 16 (the two
 * decoders treat the right edge differently when upsampling h2v1 chroma). 4 leaves one level
 * for another libjpeg build while still catching a wrong colour conversion or upsampling. */
#define GM_JPEG_MAX_DIFF 4

typedef struct image_case {
    const char *file;
    int lossy; /* JPEG: compare within GM_JPEG_MAX_DIFF */
} image_case;

static const image_case k_cases[] = {
    {"rgb_37x23.png", 0},  {"sweep_23x19.png", 0},  {"thin_5x300.png", 0},       {"ramp_16x16.png", 0},
    {"tiny_1x1.png", 0},
    {"row_9x1.png", 0},    {"grey_L.png", 0},       {"la.png", 0},               {"rgba.png", 0},
    {"palette.png", 0},    {"palette_trns.png", 0}, {"grey16.png", 0},           {"rgb16.png", 0},
    {"bilevel.png", 0},    {"rgb24.bmp", 0},        {"pal8.bmp", 0},             {"anim.gif", 0},
    {"photo_baseline.jpg", 1}, {"photo_progressive.jpg", 1}, {"grey.jpg", 1},
};

typedef struct diff_stats {
    int max_abs;
    size_t mismatches, n;
    double mean_abs;
} diff_stats;

/* Compares our pixels with a Keras reference of (h, w, 3) values read as int32. Returns 1 when
 * the shapes agree and every |diff| <= atol. */
static int compare_pixels(const uint8_t *got, int w, int h, const int32_t *ref, int rank, const long long dims[8],
                          int atol, diff_stats *st) {
    memset(st, 0, sizeof *st);
    if (!got || !ref || rank != 3 || dims[0] != h || dims[1] != w || dims[2] != 3) return 0;
    size_t n = (size_t)w * (size_t)h * 3;
    double sum = 0.0;
    for (size_t i = 0; i < n; ++i) {
        int d = abs((int)got[i] - ref[i]);
        if (d > st->max_abs) st->max_abs = d;
        if (d) ++st->mismatches;
        sum += d;
    }
    st->n = n;
    st->mean_abs = n ? sum / (double)n : 0.0;
    return st->max_abs <= atol;
}

static char *fixture_path(const char *file) {
    char rel[256];
    snprintf(rel, sizeof rel, "tests/fixtures/images/%s", file);
    return gm_test_source_path(rel);
}

/* Checks one (image, mode, target) resize of `src` against expected.h5. */
static void check_resize(gm_test_counts *c, const char *h5, const char *file, const gm_image *src, const char *tag,
                         gm_resize_mode mode, int th, int tw, int atol, int *worst) {
    char ds[320];
    snprintf(ds, sizeof ds, "/%s/%s/%dx%d", file, gm_resize_name(mode), th, tw);
    int rank = 0;
    long long dims[8] = {0};
    int32_t *ref = gm_test_h5_read_ints(h5, ds, &rank, dims);
    gm_image out = {0};
    gm_status s = gm_image_resize(src, tw, th, mode, &out);
    diff_stats st = {0};
    int ok = s == GM_OK && compare_pixels(out.rgb, out.width, out.height, ref, rank, dims, atol, &st);
    if (s != GM_OK) fprintf(stderr, "  resize failed: %s\n", gm_last_error());
    gm_test_check(c, ok, "%s %s %s %dx%d -> %dx%d: max|diff| %d, %zu/%zu differ, mean %.4f (atol %d)", file, tag,
                  gm_resize_name(mode), src->height, src->width, th, tw, st.max_abs,
                  st.mismatches, st.n, st.mean_abs, atol);
    if (s == GM_OK && st.max_abs > *worst) *worst = st.max_abs;
    gm_image_free(&out);
    free(ref);
}

/* Decoding plus every resize target of one fixture image. */
static void check_image(gm_test_counts *c, const char *h5, const image_case *ic, int *worst_exact, int *worst_jpeg) {
    char *path = fixture_path(ic->file);
    gm_image img = {0};
    gm_status s = gm_image_load(path, &img);
    gm_test_check(c, s == GM_OK, "%s: loads (%s)", ic->file, s == GM_OK ? "ok" : gm_last_error());
    free(path);
    if (s != GM_OK) return;
    int atol = ic->lossy ? GM_JPEG_MAX_DIFF : 0;
    int *worst = ic->lossy ? worst_jpeg : worst_exact;

    char ds[320];
    snprintf(ds, sizeof ds, "/%s/full", ic->file);
    int rank = 0;
    long long dims[8] = {0};
    int32_t *full = gm_test_h5_read_ints(h5, ds, &rank, dims);
    diff_stats st = {0};
    int ok = compare_pixels(img.rgb, img.width, img.height, full, rank, dims, atol, &st);
    gm_test_check(c, ok, "%s decode %dx%d vs Pillow convert(RGB): max|diff| %d, %zu/%zu differ, mean %.4f (atol %d)",
                  ic->file, img.width, img.height, st.max_abs, st.mismatches, st.n, st.mean_abs, atol);
    if (st.max_abs > *worst) *worst = st.max_abs;

    /* Pillow's decoded pixels as a gm_image: resizing them must match Keras exactly even for JPEG. */
    gm_image pil = {0};
    if (ic->lossy && full && rank == 3) {
        pil.width = (int)dims[1];
        pil.height = (int)dims[0];
        pil.rgb = malloc((size_t)dims[0] * (size_t)dims[1] * 3);
        for (size_t i = 0; pil.rgb && i < (size_t)dims[0] * (size_t)dims[1] * 3; ++i) pil.rgb[i] = (uint8_t)full[i];
    }
    free(full);

    snprintf(ds, sizeof ds, "/%s/targets", ic->file);
    int32_t *targets = gm_test_h5_read_ints(h5, ds, &rank, dims);
    gm_test_check(c, targets && rank == 2 && dims[1] == 2, "%s: target list in expected.h5", ic->file);
    for (long long t = 0; targets && rank == 2 && t < dims[0]; ++t) {
        int th = targets[2 * t], tw = targets[2 * t + 1];
        int unused = 0;
        for (int m = 0; m < 2; ++m) {
            gm_resize_mode mode = m ? GM_RESIZE_BILINEAR : GM_RESIZE_NEAREST;
            check_resize(c, h5, ic->file, &img, "decoded", mode, th, tw, atol, worst);
            if (pil.rgb) check_resize(c, h5, ic->file, &pil, "pillow-decoded", mode, th, tw, 0, &unused);
        }
    }
    free(targets);
    gm_image_free(&pil);
    gm_image_free(&img);
}

/* Preprocessing of every value 0..255 against Keras's preprocess_input, bit for bit. */
static void check_preprocess(gm_test_counts *c, const char *h5) {
    int rank = 0;
    long long dims[8] = {0};
    int32_t *in = gm_test_h5_read_ints(h5, "/preprocess/input", &rank, dims);
    if (!in || rank != 3 || dims[2] != 3) {
        gm_test_check(c, 0, "preprocess: /preprocess/input missing or not (H,W,3)");
        free(in);
        return;
    }
    size_t n_px = (size_t)dims[0] * (size_t)dims[1];
    uint8_t *rgb = malloc(n_px * 3);
    float *out = malloc(n_px * 3 * sizeof(float));
    for (size_t i = 0; rgb && i < n_px * 3; ++i) rgb[i] = (uint8_t)in[i];
    static const gm_preprocess_mode modes[] = {GM_PREPROCESS_CAFFE, GM_PREPROCESS_TF, GM_PREPROCESS_TORCH};
    for (size_t m = 0; rgb && out && m < sizeof modes / sizeof modes[0]; ++m) {
        char ds[64];
        snprintf(ds, sizeof ds, "/preprocess/%s", gm_preprocess_name(modes[m]));
        int r2 = 0;
        long long d2[8] = {0};
        float *ref = gm_test_h5_read_floats(h5, ds, &r2, d2);
        int shape_ok = ref && r2 == 3 && d2[0] == dims[0] && d2[1] == dims[1] && d2[2] == 3;
        gm_image_preprocess(rgb, n_px, modes[m], out);
        int ok = shape_ok && gm_test_close(ds, out, ref, n_px * 3, 0.0, 0.0);
        gm_test_check(c, ok, "preprocess %s: bit-exact vs keras preprocess_input (0 ulp)", gm_preprocess_name(modes[m]));
        free(ref);
    }
    /* none: the raw values. */
    if (rgb && out) {
        gm_image_preprocess(rgb, n_px, GM_PREPROCESS_NONE, out);
        int ok = 1;
        for (size_t i = 0; i < n_px * 3; ++i) ok &= out[i] == (float)in[i];
        gm_test_check(c, ok, "preprocess none: pixels as float");
    }
    free(out);
    free(rgb);
    free(in);
}

/* gm_image_load_input = load + resize + preprocess; compare with Keras's nearest 24x24 of the
 * ramp run through the (separately verified) preprocessing. */
static void check_load_input(gm_test_counts *c, const char *h5) {
    int rank = 0;
    long long dims[8] = {0};
    int32_t *ref = gm_test_h5_read_ints(h5, "/ramp_16x16.png/nearest/24x24", &rank, dims);
    char *path = fixture_path("ramp_16x16.png");
    float *got = malloc(24 * 24 * 3 * sizeof(float));
    float *want = malloc(24 * 24 * 3 * sizeof(float));
    uint8_t *rgb = malloc(24 * 24 * 3);
    int ow = 0, oh = 0;
    gm_status s = got ? gm_image_load_input(path, 24, 24, GM_RESIZE_NEAREST, GM_PREPROCESS_CAFFE, got, &ow, &oh)
                      : GM_ERR_NOMEM;
    int ok = s == GM_OK && ref && rank == 3 && dims[0] == 24 && dims[1] == 24 && want && rgb && ow == 16 && oh == 16;
    if (ok) {
        for (int i = 0; i < 24 * 24 * 3; ++i) rgb[i] = (uint8_t)ref[i];
        gm_image_preprocess(rgb, 24 * 24, GM_PREPROCESS_CAFFE, want);
        ok = gm_test_close("load_input caffe 24x24", got, want, 24 * 24 * 3, 0.0, 0.0);
    }
    gm_test_check(c, ok, "gm_image_load_input nearest+caffe 16x16 -> 24x24 (original size %dx%d)", ow, oh);
    free(rgb);
    free(want);
    free(got);
    free(path);
    free(ref);
}

/* Bad inputs: status and a message naming the path. */
static void check_errors(gm_test_counts *c) {
    static const char *const bad[] = {"truncated.png", "not_an_image.jpg", "empty.png"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        char *path = fixture_path(bad[i]);
        gm_image img = {0};
        gm_status s = gm_image_load(path, &img);
        gm_test_check(c, s == GM_ERR_FORMAT && strstr(gm_last_error(), path) && !img.rgb,
                      "%s -> %s: \"%s\"", bad[i], gm_status_name(s), gm_last_error());
        gm_image_free(&img);
        free(path);
    }
    const char *missing = "/nonexistent-dir/no_such_image.png";
    gm_image img = {0};
    gm_status s = gm_image_load(missing, &img);
    gm_test_check(c, s == GM_ERR_IO && strstr(gm_last_error(), missing), "missing file -> %s: \"%s\"",
                  gm_status_name(s), gm_last_error());

    char *dir = gm_test_source_path("tests/fixtures/images");
    s = gm_image_load(dir, &img);
    gm_test_check(c, s == GM_ERR_IO && strstr(gm_last_error(), dir), "directory -> %s: \"%s\"", gm_status_name(s),
                  gm_last_error());
    free(dir);

    s = gm_image_decode((const uint8_t *)"", 0, "mem-empty", &img);
    gm_test_check(c, s == GM_ERR_FORMAT && strstr(gm_last_error(), "mem-empty"), "empty buffer -> %s: \"%s\"",
                  gm_status_name(s), gm_last_error());

    /* A PNG header announcing 20000x20000 greyscale (4e8 > 2^28 pixels) must be refused from the
     * header alone, before any allocation (no image data follows). stb does not check CRCs. */
    static const uint8_t huge[] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                                   0, 0, 0x4e, 0x20, 0, 0, 0x4e, 0x20, 8, 0, 0, 0, 0, 0, 0, 0, 0};
    s = gm_image_decode(huge, sizeof huge, "huge.png", &img);
    gm_test_check(c, s == GM_ERR_UNSUPPORTED && strstr(gm_last_error(), "huge.png") && !img.rgb,
                  "20000x20000 header -> %s: \"%s\"", gm_status_name(s), gm_last_error());

    gm_image tiny = {0};
    uint8_t px[3] = {1, 2, 3};
    tiny.width = tiny.height = 1;
    tiny.rgb = px;
    gm_image out = {0};
    s = gm_image_resize(&tiny, 0, 5, GM_RESIZE_NEAREST, &out);
    gm_test_check(c, s == GM_ERR_INVALID_ARG && !out.rgb, "resize to 0x5 -> %s", gm_status_name(s));
}

static void check_names(gm_test_counts *c) {
    gm_preprocess_mode pm = GM_PREPROCESS_NONE;
    gm_resize_mode rm = GM_RESIZE_NEAREST;
    int ok = gm_preprocess_parse("torch", &pm) == GM_OK && pm == GM_PREPROCESS_TORCH &&
             gm_preprocess_parse("caffe", &pm) == GM_OK && pm == GM_PREPROCESS_CAFFE &&
             strcmp(gm_preprocess_name(GM_PREPROCESS_TF), "tf") == 0 &&
             gm_resize_parse("bilinear", &rm) == GM_OK && rm == GM_RESIZE_BILINEAR &&
             strcmp(gm_resize_name(GM_RESIZE_NEAREST), "nearest") == 0;
    gm_test_check(c, ok, "mode names parse and print");
    gm_status s1 = gm_preprocess_parse("inception", &pm), s2 = gm_resize_parse("bicubic", &rm);
    gm_test_check(c, s1 == GM_ERR_INVALID_ARG && s2 == GM_ERR_INVALID_ARG && strstr(gm_last_error(), "bicubic"),
                  "unknown modes rejected: \"%s\"", gm_last_error());
}

/* The comparison must be able to fail: one pixel off by one level in a bit-exact reference. */
static void check_wrong_reference(gm_test_counts *c, const char *h5) {
    char *path = fixture_path("rgb_37x23.png");
    gm_image img = {0}, out = {0};
    int rank = 0;
    long long dims[8] = {0};
    int32_t *ref = gm_test_h5_read_ints(h5, "/rgb_37x23.png/bilinear/31x50", &rank, dims);
    int ok = 0;
    if (ref && gm_image_load(path, &img) == GM_OK && gm_image_resize(&img, 50, 31, GM_RESIZE_BILINEAR, &out) == GM_OK) {
        diff_stats st;
        int right = compare_pixels(out.rgb, out.width, out.height, ref, rank, dims, 0, &st);
        ref[777] += ref[777] < 255 ? 1 : -1;
        int wrong = compare_pixels(out.rgb, out.width, out.height, ref, rank, dims, 0, &st);
        ok = right && !wrong && st.max_abs == 1 && st.mismatches == 1;
    }
    gm_test_check(c, ok, "a reference perturbed by one level at one pixel is rejected");
    gm_image_free(&out);
    gm_image_free(&img);
    free(ref);
    free(path);
}

int main(void) {
    gm_test_counts c = {0, 0};
    char *h5 = gm_test_source_path("tests/fixtures/images/expected.h5");
    if (!h5 || !gm_test_file_exists(h5)) {
        fprintf(stderr, "SKIP: %s not found (run tests/fixtures/make_image_fixtures.py)\n", h5 ? h5 : "?");
        free(h5);
        return 77;
    }
    char *v_keras = gm_test_h5_read_string_attr(h5, "/", "keras_version");
    char *v_pil = gm_test_h5_read_string_attr(h5, "/", "pillow_version");
    fprintf(stderr, "fixtures: Keras %s, Pillow %s\n", v_keras ? v_keras : "?", v_pil ? v_pil : "?");
    free(v_keras);
    free(v_pil);

    int worst_exact = 0, worst_jpeg = 0;
    for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; ++i) check_image(&c, h5, &k_cases[i], &worst_exact, &worst_jpeg);
    fprintf(stderr, "worst |diff|: lossless formats %d, JPEG %d\n", worst_exact, worst_jpeg);
    check_preprocess(&c, h5);
    check_load_input(&c, h5);
    check_errors(&c);
    check_names(&c);
    check_wrong_reference(&c, h5);
    free(h5);
    return gm_test_summary(&c);
}
