/* test_results.c — host/results*.c without crashes (test_results_kill.c kills writers): the layout
 * of results.h5 (attributes, shapes, one-image chunks, gzip), every row read back exactly with
 * plain HDF5, failed items as fill values plus /errors records, summary.csv byte for byte (quoting),
 * resume (done set, refusal of a different method list / map shape / top-k / model, no overwrite
 * without resume, a run finished in pieces equals one uninterrupted run, summary.csv cut back or
 * rebuilt), a second writer locked out, unwritable and foreign or corrupt DIR contents.
 * Damaged files are first read in a child process (host/results_probe.c); HDF5 1.10 faults on some
 * (global-heap reads behind variable-length strings), and under AddressSanitizer those children
 * print their own reports to stderr: expected, and counted below as "faults contained". */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "results_fixture.h"
#include "test_support.h"

/* Layout, every value, errors, attributes. */
static void test_layout(gm_test_counts *c, const char *base, const char *model) {
    char *dir = fx_cat(base, "layout");
    int wrote = fx_write_run(dir, model, 23, 5);
    gm_test_check(c, wrote, "wrote 23 items in batches of 5 (%s)", wrote ? "ok" : gm_last_error());
    char *h5 = fx_cat(dir, "results.h5");
    fx_file f;
    char why[256] = "";
    int read = fx_file_read(h5, &f);
    gm_test_check(c, read && f.n == 23, "results.h5 reads back with plain HDF5: %lld rows", read ? f.n : -1);
    if (read) {
        gm_test_check(c, fx_file_verify(&f, why, sizeof why), "every row equals the generator %s", why);
        /* 23 items, i % 9 == 4 fail: items 4, 13, 22. */
        gm_test_check(c, f.m == 3 && f.eidx[0] == 4 && f.eidx[1] == 13 && f.eidx[2] == 22,
                      "3 errors recorded at rows 4, 13, 22 (m = %lld)", f.m);
        /* A wrong value must be caught by the checker. */
        f.maps[1][5 * fx_map_size(1) + 3] += 1e-6f;
        gm_test_check(c, !fx_file_verify(&f, why, sizeof why), "a perturbed map value is rejected: %s", why);
        f.maps[1][5 * fx_map_size(1) + 3] = NAN;
        gm_test_check(c, !fx_file_verify(&f, why, sizeof why), "a NaN map value is rejected: %s", why);
        fx_file_free(&f);
    }
    char *fmt = gm_test_h5_read_string_attr(h5, "/", "format");
    char *sha = gm_test_h5_read_string_attr(h5, "/", "model_sha256");
    char *methods = gm_test_h5_read_string_attr(h5, "/", "methods");
    char *created = gm_test_h5_read_string_attr(h5, "/", "created");
    char *layer = gm_test_h5_read_string_attr(h5, "/", "target_layer");
    char *cmd = gm_test_h5_read_string_attr(h5, "/", "command_line");
    char *ver = gm_test_h5_read_string_attr(h5, "/", "gradmap_version");
    gm_test_check(c, fmt && !strcmp(fmt, "gradmap-results"), "format attribute '%s'", fmt ? fmt : "(none)");
    gm_test_check(c, sha && !strcmp(sha, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
                  "model_sha256 is SHA-256 of the model file: %s", sha ? sha : "(none)");
    gm_test_check(c, methods && !strcmp(methods, "saliency,gradcam++"), "methods '%s'", methods ? methods : "");
    gm_test_check(c, created && strlen(created) == 20 && created[4] == '-' && created[10] == 'T' && created[19] == 'Z',
                  "created is ISO 8601 UTC: %s", created ? created : "");
    gm_test_check(c, layer && !strcmp(layer, "block5_conv3") && cmd && strstr(cmd, "--top-k 2") && ver && ver[0],
                  "target_layer, command_line and gradmap_version (%s) recorded", ver ? ver : "");
    free(fmt), free(sha), free(methods), free(created), free(layer), free(cmd), free(ver);

    /* Shapes, one image per chunk, deflate on maps, class names. */
    hid_t file = H5Fopen(h5, H5F_ACC_RDONLY, H5P_DEFAULT);
    for (int m = 0; file >= 0 && m < FX_M; ++m) {
        char name[64];
        snprintf(name, sizeof name, "maps/%s", fx_methods[m].name);
        hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
        hid_t s = H5Dget_space(d), p = H5Dget_create_plist(d);
        hsize_t dims[4] = {0}, chunk[4] = {0};
        int rank = H5Sget_simple_extent_dims(s, dims, NULL);
        int crank = H5Pget_chunk(p, 4, chunk);
        int gz = 0;
        for (int k = 0; k < H5Pget_nfilters(p); ++k) {
            unsigned flags = 0, cd[4];
            size_t ncd = 4;
            gz |= H5Pget_filter2(p, (unsigned)k, &flags, &ncd, cd, 0, NULL, NULL) == H5Z_FILTER_DEFLATE;
        }
        gm_test_check(c,
                      rank == 4 && dims[0] == 23 && dims[1] == FX_T && (int)dims[2] == fx_methods[m].height &&
                          (int)dims[3] == fx_methods[m].width && crank == 4 && chunk[0] == 1 && chunk[1] == FX_T &&
                          (int)chunk[2] == fx_methods[m].height && gz,
                      "/%s is (23,%d,%d,%d), chunk (%llu,%llu,%llu,%llu), gzip %d", name, FX_T, fx_methods[m].height,
                      fx_methods[m].width, (unsigned long long)chunk[0], (unsigned long long)chunk[1],
                      (unsigned long long)chunk[2], (unsigned long long)chunk[3], gz);
        H5Pclose(p), H5Sclose(s), H5Dclose(d);
    }
    char **names = file >= 0 ? fx_read_strings(file, "class_names", FX_C) : NULL;
    gm_test_check(c, names && !strcmp(names[2], fx_class_names[2]), "/class_names stored (%s)", names ? names[2] : "");
    fx_free_strings(names, FX_C);
    if (file >= 0) H5Fclose(file);
    char *journal = fx_cat(dir, "results.h5.journal");
    gm_test_check(c, access(journal, F_OK) != 0, "a cleanly closed run leaves no journal");
    free(journal), free(h5), free(dir);
}

/* summary.csv byte for byte, and the quoting function. */
static void test_csv(gm_test_counts *c, const char *base) {
    char q[64];
    size_t n = gm_results_csv_field("plain", q, sizeof q);
    gm_test_check(c, n == 5 && !strcmp(q, "plain"), "plain field unquoted: %s", q);
    n = gm_results_csv_field("a,b", q, sizeof q);
    gm_test_check(c, n == 5 && !strcmp(q, "\"a,b\""), "comma quoted: %s", q);
    n = gm_results_csv_field("say \"hi\"", q, sizeof q);
    gm_test_check(c, !strcmp(q, "\"say \"\"hi\"\"\"") && n == strlen(q), "quotes doubled: %s", q);
    n = gm_results_csv_field("two\nlines", q, sizeof q);
    gm_test_check(c, !strcmp(q, "\"two\nlines\""), "newline quoted");
    n = gm_results_csv_field("a,b", q, 3);
    gm_test_check(c, n == 5 && !strcmp(q, "\"a"), "short buffer: truncated, needed length %zu reported", n);

    char *dir = fx_cat(base, "csv");
    int wrote = fx_write_run(dir, NULL, 8, 8);
    char *csv = fx_cat(dir, "summary.csv");
    long size = 0;
    char *text = wrote ? fx_slurp(csv, &size) : NULL;
    const char *expect =
        "path,width,height,status,top1,top1_name,top1_prob,target_class,target_name,target_logit,error\n"
        "imgs/0000.png,100,50,ok,0,\"tench, Tinca tinca\",0.5,0,\"tench, Tinca tinca\",0,\n"
        "imgs/0000.png,100,50,ok,0,\"tench, Tinca tinca\",0.5,1,goldfish,-1,\n"
        "imgs/0001.png,101,52,ok,1,goldfish,0.501,1,goldfish,0.5,\n"
        "imgs/0001.png,101,52,ok,1,goldfish,0.501,2,\"great \"\"white\"\" shark\",-0.5,\n"
        "imgs/0002.png,102,54,ok,2,\"great \"\"white\"\" shark\",0.502,2,\"great \"\"white\"\" shark\",1,\n"
        "imgs/0002.png,102,54,ok,2,\"great \"\"white\"\" shark\",0.502,3,tiger shark,0,\n"
        "\"imgs/with,comma \"\"q\"\" 0003.png\",103,56,ok,3,tiger shark,0.503,3,tiger shark,1.5,\n"
        "\"imgs/with,comma \"\"q\"\" 0003.png\",103,56,ok,3,tiger shark,0.503,4,hammerhead,0.5,\n"
        "imgs/0004.png,0,0,error,,,,,,,\"cannot decode item 4: bad \"\"PNG\"\", truncated\"\n"
        "imgs/0005.png,105,60,ok,5,electric ray,0.505,5,electric ray,2.5,\n"
        "imgs/0005.png,105,60,ok,5,electric ray,0.505,6,stingray,1.5,\n"
        "imgs/0006.png,106,62,ok,6,stingray,0.506,6,stingray,3,\n"
        "imgs/0006.png,106,62,ok,6,stingray,0.506,7,cock,2,\n"
        "\"imgs/new\nline 0007.png\",107,64,ok,7,cock,0.507,7,cock,3.5,\n"
        "\"imgs/new\nline 0007.png\",107,64,ok,7,cock,0.507,8,hen,2.5,\n";
    int same = text && !strcmp(text, expect);
    gm_test_check(c, same, "summary.csv matches byte for byte (%ld bytes)", size);
    if (text && !same) fprintf(stderr, "--- got:\n%s--- expected:\n%s", text, expect);
    gm_test_check(c, text && strcmp(text, expect + 1) != 0, "a different CSV is not accepted");
    free(text), free(csv), free(dir);
}

static gm_status gm_open_with(const char *dir, const char *model, int resume, void (*edit)(gm_results_spec *),
                              gm_results **r) {
    gm_results_spec spec;
    fx_spec(&spec, dir, model);
    if (edit) edit(&spec);
    return gm_results_open(&spec, resume, r);
}

static const gm_results_method only_saliency[1] = {{"saliency", 6, 5}};
static const gm_results_method wrong_shape[FX_M] = {{"saliency", 6, 5}, {"gradcam++", 7, 7}};
static const gm_results_method bad_name[1] = {{"../evil", 6, 5}};
static void edit_methods(gm_results_spec *s) { s->methods = only_saliency, s->n_methods = 1; }
static void edit_shape(gm_results_spec *s) { s->methods = wrong_shape; }
static void edit_topk(gm_results_spec *s) { s->top_k = 2; }
static void edit_layer(gm_results_spec *s) { s->target_layer = "block4_conv3"; }
static void edit_bad_name(gm_results_spec *s) { s->methods = bad_name, s->n_methods = 1; }
/* A damaged file can make HDF5 spin: the corrupt-file cases wait 1.5 s for progress, not 10. */
static void edit_fast_probe(gm_results_spec *s) { s->probe_stall_ms = 1500; }

/* Resume: refusals with clear messages, the done set, finishing in pieces equals one run. */
static void test_resume(gm_test_counts *c, const char *base, const char *model) {
    char *dir = fx_cat(base, "resume"), *ref = fx_cat(base, "resume_ref");
    char *other_model = fx_cat(base, "other_model.h5");
    fx_write_file(other_model, "abd", 3);
    int ok = fx_write_run(dir, model, 10, 4) && fx_write_run(ref, model, 23, 5);
    gm_test_check(c, ok, "wrote a 10-item run and a 23-item reference");
    gm_results *r = NULL;
    gm_status st = gm_open_with(dir, model, 0, NULL, &r);
    gm_test_check(c, st == GM_ERR_INVALID_ARG && r == NULL && strstr(gm_last_error(), "already exists") &&
                      strstr(gm_last_error(), "--resume"),
                  "without resume an existing run is never overwritten: %s", gm_last_error());
    st = gm_open_with(dir, model, 1, edit_methods, &r);
    gm_test_check(c, st == GM_ERR_INVALID_ARG && strstr(gm_last_error(), "saliency,gradcam++") &&
                      strstr(gm_last_error(), "--method"),
                  "resume with another method list: %s", gm_last_error());
    st = gm_open_with(dir, model, 1, edit_shape, &r);
    gm_test_check(c, st == GM_ERR_INVALID_ARG && strstr(gm_last_error(), "gradcam++ was written at 3x4"),
                  "resume with another map shape: %s", gm_last_error());
    st = gm_open_with(dir, model, 1, edit_topk, &r);
    gm_test_check(c, st == GM_ERR_INVALID_ARG && strstr(gm_last_error(), "top_k"), "resume with another top-k: %s",
                  gm_last_error());
    st = gm_open_with(dir, model, 1, edit_layer, &r);
    gm_test_check(c, st == GM_ERR_INVALID_ARG && strstr(gm_last_error(), "block5_conv3"),
                  "resume with another target layer: %s", gm_last_error());
    st = gm_open_with(dir, other_model, 1, NULL, &r);
    gm_test_check(c, st == GM_ERR_INVALID_ARG && strstr(gm_last_error(), "different model"),
                  "resume with another model file: %s", gm_last_error());
    st = gm_open_with(base, model, 0, edit_bad_name, &r);
    gm_test_check(c, st == GM_ERR_INVALID_ARG && strstr(gm_last_error(), "../evil"), "a method name with '/' is refused: %s",
                  gm_last_error());

    st = gm_open_with(dir, model, 1, NULL, &r);
    gm_test_check(c, st == GM_OK && gm_results_count(r) == 10 && gm_results_error_count(r) == 1,
                  "resume finds 10 rows, 1 error (%lld, %lld)", gm_results_count(r), gm_results_error_count(r));
    char p[FX_PATH_CAP];
    fx_path(3, p);
    int done3 = gm_results_is_done(r, p);
    fx_path(4, p);
    int done4 = gm_results_is_done(r, p); /* a failed item counts as done */
    fx_path(10, p);
    int done10 = gm_results_is_done(r, p);
    gm_test_check(c, done3 && done4 && !done10, "done set: item 3 %d, failed item 4 %d, item 10 %d", done3, done4, done10);
    gm_results *second = NULL;
    gm_status st2 = gm_open_with(dir, model, 1, NULL, &second);
    gm_test_check(c, st2 == GM_ERR_IO && second == NULL && strstr(gm_last_error(), "another gradmap run"),
                  "a second writer on the same directory is locked out: %s", gm_last_error());
    fx_batch *x = malloc(sizeof *x);
    for (long long i = 10; st == GM_OK && i < 23; i += 5) {
        fx_build_range(x, i, (int)(23 - i < 5 ? 23 - i : 5));
        st = gm_results_append_batch(r, &x->b);
    }
    fx_path(12, p);
    gm_test_check(c, st == GM_OK && gm_results_is_done(r, p), "appended items 10..22 (%s)", st == GM_OK ? "ok" : gm_last_error());
    /* A batch with an out-of-range class is refused before anything is written. */
    fx_build_range(x, 23, 2);
    x->tkc[0] = FX_C;
    gm_status bad = gm_results_append_batch(r, &x->b);
    gm_test_check(c, bad == GM_ERR_INVALID_ARG && gm_results_count(r) == 23, "out-of-range class refused: %s",
                  gm_last_error());
    free(x);
    gm_test_check(c, gm_results_close(&r) == GM_OK && r == NULL, "close nulls the handle");

    char *h5 = fx_cat(dir, "results.h5"), *ref_h5 = fx_cat(ref, "results.h5");
    char *csv = fx_cat(dir, "summary.csv"), *ref_csv = fx_cat(ref, "summary.csv");
    fx_file a, b;
    char why[256] = "";
    int ra = fx_file_read(h5, &a), rb = fx_file_read(ref_h5, &b);
    int same = ra && rb && a.n == 23 && b.n == 23 && fx_file_verify(&a, why, sizeof why) && a.m == b.m &&
               !memcmp(a.maps[0], b.maps[0], 23 * (size_t)fx_map_size(0) * sizeof(float));
    gm_test_check(c, same, "10 + 13 resumed rows equal the 23-row run %s", why);
    char *t1 = fx_slurp(csv, NULL), *t2 = fx_slurp(ref_csv, NULL);
    gm_test_check(c, t1 && t2 && !strcmp(t1, t2), "resumed summary.csv equals the uninterrupted one (header once)");
    free(t1), free(t2);
    if (ra) fx_file_free(&a);
    if (rb) fx_file_free(&b);
    free(h5), free(ref_h5), free(csv), free(ref_csv), free(other_model), free(dir), free(ref);
}

/* Unwritable output directories: GM_ERR_IO naming the path. */
static void test_unwritable(gm_test_counts *c, const char *base, const char *model) {
    gm_results *r = NULL;
    char *file = fx_cat(base, "a_file");
    fx_write_file(file, "x", 1);
    gm_status st = gm_open_with(file, model, 0, NULL, &r);
    gm_test_check(c, st == GM_ERR_IO && strstr(gm_last_error(), file) && strstr(gm_last_error(), "not a directory"),
                  "DIR is a regular file: %s", gm_last_error());
    char *deep = fx_cat(base, "missing/parent/out");
    st = gm_open_with(deep, model, 0, NULL, &r);
    gm_test_check(c, st == GM_ERR_IO && strstr(gm_last_error(), deep), "DIR's parent is missing: %s", gm_last_error());
    st = gm_open_with("/proc/gm_results_out", model, 0, NULL, &r);
    gm_test_check(c, st == GM_ERR_IO && strstr(gm_last_error(), "/proc/gm_results_out"),
                  "DIR on a read-only file system: %s", gm_last_error());
    char *ro = fx_cat(base, "readonly");
    mkdir(ro, 0555);
    chmod(ro, 0555);
    if (geteuid() != 0) {
        st = gm_open_with(ro, model, 0, NULL, &r);
        gm_test_check(c, st == GM_ERR_IO && strstr(gm_last_error(), ro), "read-only DIR: %s", gm_last_error());
    } else {
        fprintf(stderr, "  (running as root: permission bits do not stop writes; read-only DIR covered by /proc)\n");
    }
    chmod(ro, 0755);
    char *h5dir = fx_cat(base, "h5_is_dir");
    char *h5 = fx_cat(h5dir, "results.h5");
    mkdir(h5dir, 0755);
    mkdir(h5, 0755);
    st = gm_open_with(h5dir, model, 1, NULL, &r);
    gm_test_check(c, st == GM_ERR_IO && strstr(gm_last_error(), h5), "results.h5 is a directory: %s", gm_last_error());
    st = gm_open_with(base, "/nonexistent/model.h5", 0, NULL, &r);
    gm_test_check(c, st == GM_ERR_IO && strstr(gm_last_error(), "/nonexistent/model.h5"), "missing model file: %s",
                  gm_last_error());
    free(file), free(deep), free(ro), free(h5dir), free(h5);
}

/* A results.h5 that is not ours, not HDF5, truncated or with flipped bytes: a clear error or a
 * usable file, never a crash. */
static void test_foreign_and_corrupt(gm_test_counts *c, const char *base, const char *model) {
    gm_results *r = NULL;
    char *dir = fx_cat(base, "foreign"), *h5 = fx_cat(dir, "results.h5");
    mkdir(dir, 0755);
    /* An HDF5 file of someone else's: a Keras fixture when the source tree is known, else one
     * made here. */
    char *keras = gm_test_source_path("tests/fixtures/conformance/vgg_like_k3.h5");
    long ksize = 0;
    char *kbytes = fx_slurp(keras, &ksize);
    const char *what = kbytes ? keras : "an HDF5 file made here";
    if (!kbytes) {
        hid_t f = H5Fcreate(h5, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        hsize_t n = 4;
        hid_t sp = H5Screate_simple(1, &n, NULL);
        hid_t d = H5Dcreate2(f, "kernel", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Dclose(d), H5Sclose(sp), H5Fclose(f);
        kbytes = fx_slurp(h5, &ksize);
    }
    if (kbytes) {
        fx_write_file(h5, kbytes, (size_t)ksize);
        gm_status st = gm_open_with(dir, model, 1, NULL, &r);
        gm_test_check(c, st == GM_ERR_FORMAT && strstr(gm_last_error(), h5) &&
                          strstr(gm_last_error(), "not a gradmap results file"),
                      "a foreign HDF5 file (%s) as results.h5: %s", what, gm_last_error());
        long after = 0;
        char *again = fx_slurp(h5, &after);
        gm_test_check(c, again && after == ksize && !memcmp(again, kbytes, (size_t)ksize), "the foreign file is left untouched");
        free(again);
    }
    free(kbytes), free(keras);
    fx_write_file(h5, "this is not HDF5 at all", 23);
    gm_status st = gm_open_with(dir, model, 1, NULL, &r);
    gm_test_check(c, st == GM_ERR_FORMAT && strstr(gm_last_error(), h5) && strstr(gm_last_error(), "not an HDF5 file"),
                  "garbage results.h5: %s", gm_last_error());

    /* Damaged copies of a real results file. */
    char *good_dir = fx_cat(base, "corrupt_src"), *good = fx_cat(good_dir, "results.h5");
    fx_write_run(good_dir, model, 20, 7);
    long size = 0;
    unsigned char *orig = (unsigned char *)fx_slurp(good, &size);
    gm_test_rng rng;
    gm_test_rng_seed(&rng, 4242);
    int cases = 0, clean = 0, opened = 0, contained = 0;
    for (int k = 0; orig && k < 40; ++k) {
        unsigned char *copy = malloc((size_t)size);
        memcpy(copy, orig, (size_t)size);
        long len = size;
        if (k < 12) {
            len = (long)((double)size * (k + 0.5) / 12.0);
        } else {
            for (int f = 0; f < 4; ++f) {
                long at = (long)(gm_test_rng_uniform(&rng) * (double)(k < 26 ? (size < 4096 ? size : 4096) : size));
                copy[at] ^= (unsigned char)(1 + gm_test_rng_uniform(&rng) * 255.0);
            }
        }
        char *csv = fx_cat(dir, "summary.csv");
        unlink(csv);
        free(csv);
        fx_write_file(h5, copy, (size_t)len);
        free(copy);
        st = gm_open_with(dir, model, 1, edit_fast_probe, &r);
        ++cases;
        if (st == GM_OK) {
            ++opened;
            ++clean;
            gm_results_close(&r);
        } else {
            clean += strstr(gm_last_error(), dir) != NULL && r == NULL;
            contained += strstr(gm_last_error(), "results file is corrupt") != NULL;
            if (!strstr(gm_last_error(), dir) || getenv("GM_VERBOSE")) fprintf(stderr, "  case %d: %s\n", k, gm_last_error());
        }
    }
    gm_test_check(c, cases == 40 && clean == cases,
                  "40 damaged results files: every one opens or fails naming the path (%d opened, %d faults contained)",
                  opened, contained);
    free(orig), free(good), free(good_dir), free(h5), free(dir);
}

int main(void) {
    gm_test_counts c = {0};
    char base[] = "/tmp/gm_results_XXXXXX";
    if (!mkdtemp(base)) {
        perror("mkdtemp");
        return 1;
    }
    char *model = fx_cat(base, "model.h5");
    fx_write_file(model, "abc", 3);
    test_layout(&c, base, model);
    test_csv(&c, base);
    test_resume(&c, base, model);
    test_unwritable(&c, base, model);
    test_foreign_and_corrupt(&c, base, model);
    free(model);
    if (!getenv("GM_KEEP")) fx_rm_rf(base);
    else fprintf(stderr, "kept %s\n", base);
    return gm_test_summary(&c);
}
