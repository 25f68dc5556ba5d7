/* test_model_corrupt.c — untrusted model files: a valid Keras .h5 (tests/fixtures/conformance/
 * vgg_like_k3.h5) is truncated at many lengths and has single bytes overwritten at seeded
 * positions (object headers, heaps, attributes, data). Loading each variant must never crash
 * (this test runs under AddressSanitizer/UBSan in CI) and must either succeed or fail with a
 * message that names the file. A file whose corruption only touched weight values may load.
 *
 * HDF5 1.10 itself reads past its buffers on some corrupted global heaps (variable-length strings);
 * gradmap reads the metadata first in a child process (weights/h5_probe.c), so such a fault ends
 * only the child. Under AddressSanitizer those children print their own reports to stderr: they
 * are expected, and counted below as "contained". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_support.h"
#include "weights/model.h"

static unsigned char *gm_read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = len > 0 ? malloc((size_t)len) : NULL;
    if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *size = buf ? (size_t)len : 0;
    return buf;
}

static int gm_write_all(const char *path, const unsigned char *buf, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(buf, 1, size, f) == size;
    return fclose(f) == 0 && ok;
}

/* Loads `path`; returns 1 when the outcome is acceptable (ok, or an error naming the file). */
static int gm_load_outcome(const char *path, int *loaded, int *contained) {
    gm_graph *g = NULL;
    gm_status st = gm_model_load(path, NULL, &g);
    *loaded = st == GM_OK;
    if (st != GM_OK && strstr(gm_last_error(), "HDF5 library failed")) ++*contained;
    int ok = st == GM_OK ? g != NULL : (g == NULL && strstr(gm_last_error(), path) != NULL);
    if (!ok) fprintf(stderr, "  %s: status %s, message: %s\n", path, gm_status_name(st), gm_last_error());
    gm_graph_free(&g);
    return ok;
}

int main(void) {
    gm_test_counts c = {0};
    char *src = gm_test_source_path("tests/fixtures/conformance/vgg_like_k3.h5");
    size_t size = 0;
    unsigned char *orig = gm_read_all(src, &size);
    gm_test_check(&c, orig != NULL && size > 4096, "read %s (%zu bytes)", src, size);
    if (!orig) return gm_test_summary(&c);

    char path[] = "/tmp/gm_corrupt_XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0) close(fd);
    int loaded = 0, contained = 0;

    /* Every truncation must be refused (the weights sit at the end of the file). */
    int truncations_ok = 1, truncations_refused = 1;
    for (int k = 0; k < 40; ++k) {
        size_t len = size * (size_t)k / 40;
        gm_write_all(path, orig, len);
        truncations_ok &= gm_load_outcome(path, &loaded, &contained);
        truncations_refused &= !loaded;
    }
    gm_test_check(&c, truncations_ok && truncations_refused,
                  "40 truncations (0%%..97.5%% of the file): all refused with the file named");

    /* Seeded single-byte corruptions: half in the first 8 KiB (superblock, object headers, heaps,
     * attributes), half anywhere. */
    gm_test_rng rng;
    gm_test_rng_seed(&rng, 1234);
    unsigned char *copy = malloc(size);
    int flips_ok = 1, refused = 0, accepted = 0;
    for (int k = 0; k < 500 && copy; ++k) {
        memcpy(copy, orig, size);
        size_t span = k % 2 ? size : (size < 8192 ? size : 8192);
        size_t pos = (size_t)(gm_test_rng_uniform(&rng) * (double)span);
        unsigned char v = (unsigned char)(gm_test_rng_uniform(&rng) * 256.0);
        copy[pos] = (unsigned char)(copy[pos] == v ? v ^ 0xff : v);
        gm_write_all(path, copy, size);
        flips_ok &= gm_load_outcome(path, &loaded, &contained);
        loaded ? ++accepted : ++refused;
    }
    gm_test_check(&c, flips_ok, "500 single-byte corruptions: no crash, every refusal names the file (%d refused, %d "
                  "loaded because only data or unused bytes changed)", refused, accepted);
    gm_test_check(&c, refused > 0, "corruption of the metadata is detected (%d refused, %d of them faults of the HDF5 "
                  "library contained in the probe process)", refused, contained);

    /* The HDF5 fault itself: the global heap ("GCOL") holding the variable-length strings gets an
     * object whose size field claims 16x its real size (model_config's storage). */
    int heap_case_ok = 0;
    const unsigned char *gcol = NULL;
    for (size_t i = 0; i + 16 < size && !gcol; ++i)
        if (!memcmp(orig + i, "GCOL", 4)) gcol = orig + i;
    if (gcol && copy) {
        memcpy(copy, orig, size);
        size_t p = (size_t)(gcol - orig) + 16, end = size - 16;
        while (p < end) {
            uint64_t obj_size = 0;
            memcpy(&obj_size, copy + p + 8, 8); /* little-endian, as every file here */
            uint16_t index = (uint16_t)(copy[p] | copy[p + 1] << 8);
            if (index == 0 || obj_size > size) break;
            if (obj_size > 1000) {
                obj_size *= 16;
                memcpy(copy + p + 8, &obj_size, 8);
                gm_write_all(path, copy, size);
                heap_case_ok = gm_load_outcome(path, &loaded, &contained) && !loaded;
                break;
            }
            p += 16 + (size_t)((obj_size + 7) / 8 * 8);
        }
    }
    gm_test_check(&c, heap_case_ok, "a global-heap object claiming 16x its size is refused without a crash (%s)",
                  gm_last_error());

    gm_write_all(path, orig, size);
    gm_load_outcome(path, &loaded, &contained);
    gm_test_check(&c, loaded, "the untouched copy still loads");

    unlink(path);
    free(copy);
    free(orig);
    free(src);
    return gm_test_summary(&c);
}
