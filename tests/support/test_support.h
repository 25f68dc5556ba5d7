/* test_support.h — shared helpers for gradmap's C tests: deterministic random numbers, a
 * tolerance check |a-b| <= atol + rtol*|ref| that always fails on NaN and reports the worst
 * element, fixture-path lookup, and small HDF5 readers for committed fixture files.
 * Tests print "PASS name" / "FAIL name: ..." lines and return the number of failures. */
#ifndef GM_TEST_SUPPORT_H
#define GM_TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

#include "host/backend.h"

typedef struct gm_test_rng { uint64_t state; } gm_test_rng;

void gm_test_rng_seed(gm_test_rng *r, uint64_t seed);
double gm_test_rng_uniform(gm_test_rng *r);              /* [0, 1) */
float gm_test_rng_range(gm_test_rng *r, float lo, float hi);
void gm_test_fill(gm_test_rng *r, float *x, size_t n, float lo, float hi);

/* Compares `got` with `ref` element-wise; prints max abs/rel error and worst index, and
 * returns 1 on success, 0 on failure (any NaN/Inf in either array fails). */
int gm_test_close(const char *what, const float *got, const float *ref, size_t n, double atol, double rtol);
/* Same with a double reference. */
int gm_test_close_d(const char *what, const float *got, const double *ref, size_t n, double atol, double rtol);

/* Absolute path of a file under the source tree (GM_SOURCE_DIR from CTest, or the compiled-in
 * default); returns a static-per-call buffer owned by the caller (free()). */
char *gm_test_source_path(const char *relative);
int gm_test_file_exists(const char *path);

/* Reads a float32 dataset of an HDF5 file into a malloc'd array; dims (up to 8) returned. */
float *gm_test_h5_read_floats(const char *file, const char *dataset, int *rank, long long dims[8]);
/* Reads an integer dataset (any int type) as int32. */
int32_t *gm_test_h5_read_ints(const char *file, const char *dataset, int *rank, long long dims[8]);
/* Reads a string attribute (fixed or variable length) of `object` ("/" for root) into a malloc'd
 * string, or NULL when absent. */
char *gm_test_h5_read_string_attr(const char *file, const char *object, const char *attr);

/* A backend tensor holding a copy of host data, or the NaN byte pattern when host == NULL (an op
 * that leaves outputs unwritten then fails every comparison). Exits the test on allocation failure. */
gm_tensor gm_test_backend_tensor(gm_backend *be, int n, int h, int w, int c, const float *host);
/* A malloc'd host copy of a backend tensor. */
float *gm_test_backend_to_host(gm_backend *be, const gm_tensor *t);

/* Counters printed by gm_test_summary(); gm_test_check records one assertion. */
typedef struct gm_test_counts { int passed, failed; } gm_test_counts;
void gm_test_check(gm_test_counts *c, int ok, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Prints "N passed, M failed" and returns the process exit code (0 or 1). */
int gm_test_summary(const gm_test_counts *c);

/* ---- Helpers of the CPU-vs-CUDA tier (tests/gpu/), usable with any backend. ---- */

/* Like gm_test_backend_tensor, for a backend whose memory the host cannot touch (CUDA): the NaN
 * pattern is uploaded rather than written through the pointer, and a failed alloc or upload exits
 * the test with a message. */
gm_tensor gm_test_device_tensor(gm_backend *be, int n, int h, int w, int c, const float *host);
/* Frees a tensor made by either constructor and nulls its data. */
void gm_test_tensor_free(gm_backend *be, gm_tensor *t);

/* Distance between two finite floats in units in the last place (0 for +0 vs -0), as a double
 * so that values of opposite signs far apart do not overflow. */
double gm_test_ulp_distance(float a, float b);
/* Element-wise: passes when |got - ref| <= atol or got is within max_ulps ulps of ref; any
 * NaN/Inf fails. Prints the largest ulp distance, the largest |diff| and the worst index. */
int gm_test_close_ulps(const char *what, const float *got, const float *ref, size_t n, double max_ulps, double atol);

/* max |x| and sqrt(mean x^2) of n floats (0 for n == 0; NaN when x holds a NaN). */
double gm_test_max_abs(const float *x, size_t n);
double gm_test_rms(const float *x, size_t n);
/* Spearman's rank correlation of a and b (ties get their average rank). NaN when n < 2, when
 * either holds a non-finite value, or when either is constant (a correlation is undefined). */
double gm_test_spearman(const float *a, const float *b, size_t n);

/* The CUDA plugin of this build (GM_BINARY_DIR/libgradmap_cuda.so): 0 when the build has none (CUDA
 * off), 1 when it loads with RTLD_NOW and its table matches this build (abi and structure sizes),
 * -1 when it exists but does not load or does not match (the reason in why). The backend registry
 * reports all of these as GM_ERR_NO_DEVICE, so a GPU test tells "no plugin" and "broken plugin"
 * from "no device" with this. The handle stays open: the plugin links the static CUDA runtime,
 * whose exit handlers must not be unloaded before exit. */
int gm_test_cuda_plugin_status(char *why, size_t size);

#endif
