/* gpu_pair.h — shared helpers of the CPU-vs-CUDA tier (tests/gpu/, CTest label "gpu"): open the
 * CUDA backend at a given precision (no device or no plugin ends the program with exit code 77,
 * which CTest reports as skipped), put the same host data on the CPU and the CUDA backend, run an
 * op's two results through one comparison, and the tolerances of the convolution / GEMM ops per
 * precision (justified in gpu_pair.c). The CPU backend is the reference everywhere: it is the one
 * tested against double-precision references and Keras in the unit and conformance tiers.
 * Tensors are NHWC as in host/backend.h. */
#ifndef GM_GPU_PAIR_H
#define GM_GPU_PAIR_H

#include <stddef.h>

#include "host/backend.h"
#include "test_support.h"

#define GM_TEST_SKIP 77 /* CTest SKIP_RETURN_CODE */

/* Every CUDA result of a run at fp32, recorded; a run at another precision replays them and requires
 * each op outside the convolutions and GEMMs to give the same bits (backend.h: only conv / GEMM
 * operands are rounded; everything else, the explanation kernels included, stays fp32). */
typedef struct gm_pair_record {
    int replay; /* 0: store each CUDA result; 1: compare each with the one stored at its position */
    int count, cap, next;
    float **data;
    size_t *n;
    char **label;
} gm_pair_record;

typedef struct gm_pair {
    gm_backend *cpu, *gpu;
    gm_precision precision; /* of gpu */
    gm_test_counts *counts;
    gm_test_rng *rng;
    gm_pair_record *record; /* NULL: no recording */
} gm_pair;

void gm_pair_record_free(gm_pair_record *r);

/* The same logical tensor on both backends. */
typedef struct gm_pair_tensor {
    gm_tensor cpu, gpu;
} gm_pair_tensor;

/* Raw backend memory (channel scales, a dense kernel) with the same floats on both. */
typedef struct gm_pair_buffer {
    float *cpu, *gpu;
} gm_pair_buffer;

/* Statuses of one op on both backends, with each failure's message kept (gm_last_error() is
 * overwritten by the second call). */
typedef struct gm_pair_status {
    gm_status cpu, gpu;
    char cpu_msg[256], gpu_msg[256];
} gm_pair_status;

/* How an op's two outputs must agree: within max_ulps ulps or atol (ULPS), or
 * |gpu - cpu| <= atol + rtol*|cpu| (TOL). Any NaN or Inf fails either way. */
typedef enum gm_pair_rule { GM_PAIR_ULPS = 0, GM_PAIR_TOL } gm_pair_rule;
typedef struct gm_pair_bound {
    gm_pair_rule rule;
    double max_ulps, atol, rtol;
} gm_pair_bound;

gm_pair_bound gm_pair_ulps(double max_ulps, double atol);
gm_pair_bound gm_pair_tol(double atol, double rtol);

/* Opens "cuda" with cfg.precision = precision. GM_ERR_NO_DEVICE: prints "SKIP: <reason>" and
 * exits 77. Any other failure prints the message and exits 1: with a device present, a backend
 * that cannot open is a failure, not a skip. */
gm_backend *gm_pair_open_cuda(gm_precision precision);
/* Opens "cpu" or exits 1. */
gm_backend *gm_pair_open_cpu(void);

/* host == NULL: both filled with the NaN byte pattern, so unwritten outputs fail. */
gm_pair_tensor gm_pair_tensor_make(const gm_pair *p, int n, int h, int w, int c, const float *host);
void gm_pair_tensor_free(const gm_pair *p, gm_pair_tensor *t);
gm_pair_buffer gm_pair_buffer_make(const gm_pair *p, const float *host, size_t count);
void gm_pair_buffer_free(const gm_pair *p, gm_pair_buffer *b);

/* Records st's message into msg when st failed; returns st. */
gm_status gm_pair_keep(gm_status st, char msg[256]);

/* Downloads both sides of t, compares the CUDA result with the CPU result under `bound`, records
 * one check named `what` (it also fails when either op failed) and returns 1 when it passed. */
int gm_pair_compare(const gm_pair *p, const char *what, const gm_pair_status *st, const gm_pair_tensor *t,
                    gm_pair_bound bound);

/* Bound for a convolution / GEMM output (or a backward-data output) under the gpu's precision:
 * k = products summed per output, scale = the typical magnitude of the exact sums (their r.m.s.). */
gm_pair_bound gm_pair_gemm_bound(gm_precision precision, int k, double scale);

/* malloc'd random floats in [lo, hi) from p->rng; exits on out of memory. */
float *gm_pair_random(const gm_pair *p, size_t n, float lo, float hi);
/* malloc'd n floats, each one of `levels` evenly spaced values in [lo, hi]: inputs with many exact
 * ties (pooling windows, global max planes). */
float *gm_pair_quantized(const gm_pair *p, size_t n, float lo, float hi, int levels);

#endif
