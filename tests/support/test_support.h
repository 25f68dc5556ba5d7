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

#endif
