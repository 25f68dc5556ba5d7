/* test_results.c — host/results*.c without crashes (test_results_kill.c kills writers): the layout
 * of results.h5 (attributes, shapes, one-image chunks, gzip), every row read back exactly with
 * plain HDF5, failed items as fill values plus /errors records, summary.csv byte for byte (quoting),
 * resume (done set, refusal of a different method list / map shape / top-k / model, no overwrite
 * without resume, a run finished in pieces equals one uninterrupted run, summary.csv cut back or
 * rebuilt), a second writer locked out, unwritable and foreign or corrupt DIR contents. */
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

static char *gm_cat(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = malloc(n);
    snprintf(s, n, "%s/%s", a, b);
    return s;
}

static int gm_write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(data, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

/* Layout, every value, errors, attributes. */
static void test_layout(gm_test_counts *c, const char *base, const char *model) {
    char *dir = gm_cat(base, "layout");
    int wrote = fx_write_run(dir, model, 23, 5);
    gm_test_check(c, wrote, "wrote 23 items in batches of 5 (%s)", wrote ? "ok" : gm_last_error());
    char *h5 = gm_cat(dir, "results.h5");
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
    char *journal = gm_cat(dir, "results.h5.journal");
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

    char *dir = gm_cat(base, "csv");
    int wrote = fx_write_run(dir, NULL, 8, 8);
    char *csv = gm_cat(dir, "summary.csv");
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

int main(void) {
    gm_test_counts c = {0};
    char base[] = "/tmp/gm_results_XXXXXX";
    if (!mkdtemp(base)) {
        perror("mkdtemp");
        return 1;
    }
    char *model = gm_cat(base, "model.h5");
    gm_write_file(model, "abc", 3);
    test_layout(&c, base, model);
    test_csv(&c, base);
    free(model);
    if (!getenv("GM_KEEP")) fx_rm_rf(base);
    else fprintf(stderr, "kept %s\n", base);
    return gm_test_summary(&c);
}
