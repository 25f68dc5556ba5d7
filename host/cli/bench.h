/* bench.h — `gradmap bench`: its options (bench_args.c), one measured case (bench_case.c), its
 * per-layer profile (bench_profile.c), the process's memory counters (bench_memory.c), the
 * machine's own peaks (bench_peak.c) and the JSON lines that report them (bench_report.c), tied
 * together by cmd_bench.c. The JSON field names are a contract with bench/peers/, which parses
 * them: bench_report.c lists every field once. */
#ifndef GM_BENCH_H
#define GM_BENCH_H

#include <stdint.h>
#include <stdio.h>

#include "cli.h"
#include "explain/compare.h"
#include "explain/engine.h"
#include "explain/explain.h"
#include "host/image.h"

#define GM_BENCH_MAX_BATCHES 16

/* Stages of one iteration, in pipeline order (indices into gm_bench_result.stage_s). */
typedef enum gm_bench_stage {
    GM_STAGE_DECODE = 0,
    GM_STAGE_PREPROCESS,
    GM_STAGE_FORWARD,
    GM_STAGE_BACKWARD,
    GM_STAGE_MAPS,
    GM_STAGE_POST,
    GM_STAGE_WRITE,
    GM_STAGE_COUNT
} gm_bench_stage;

const char *gm_bench_stage_name(gm_bench_stage s); /* "decode", ..., "write" (the JSON keys) */

typedef struct gm_bench_args {
    const char *arch;        /* --arch: built-in architecture (random weights unless --model) */
    const char *model_path;  /* --model FILE.h5 */
    const char *device;      /* auto | cpu | cuda */
    const char *json_path;   /* --json FILE (appended), NULL = stdout */
    char *images[64];        /* --images values (folders, files, lists), empty = synthetic */
    int n_images;
    unsigned methods;        /* bit (1u << gm_method) per requested method */
    int batches[GM_BENCH_MAX_BATCHES], n_batches;
    gm_precision precision;
    gm_conv_algo conv_algo;  /* --conv-algo (CPU fp32 convolutions) */
    int iters, warmup, threads, check, peak;
    int profile;             /* --profile: GM_BENCH_PROFILE_ITERS profiled iterations after the timed ones */
    uint64_t seed;
} gm_bench_args;

/* Parses argv (argv[0] = "bench"); *help = 1 for --help. Usage errors are GM_ERR_INVALID_ARG. */
gm_status gm_bench_args_parse(int argc, char **argv, gm_bench_args *a, int *help);
void gm_bench_usage(FILE *f);

/* Profiled iterations of --profile (after the timed ones, which are never profiled: profiling
 * synchronises the backend after every layer). */
#define GM_BENCH_PROFILE_ITERS 2

/* One node of the per-layer profile: medians over the profiled iterations. */
typedef struct gm_bench_node_profile {
    int node;                            /* index in the graph */
    char name[128];                      /* the layer's name */
    char op_class[32];                   /* conv3x3, conv1x1s2, conv7x7s2, dense, maxpool, add, ... */
    int rank, h, w, c;                   /* output shape per image (rank 2: c only) */
    double forward_s, backward_s;        /* per iteration (every pass of the iteration together) */
    double forward_macs, backward_macs;  /* per image and pass (0: not conv / dense, or no backward-data) */
    double forward_gflops, backward_gflops; /* NAN where there are no MACs or no time */
} gm_bench_node_profile;

/* The nodes of one op class together. */
typedef struct gm_bench_class_profile {
    char op_class[32];
    int nodes;
    double forward_s, backward_s;
    double forward_gflops, backward_gflops, gflops; /* NAN for classes without MACs */
} gm_bench_class_profile;

typedef struct gm_bench_profile {
    int n_nodes, n_classes;
    gm_bench_node_profile *nodes;        /* nodes that did work, in graph order */
    gm_bench_class_profile *classes;     /* by time, largest first */
    double total_s;                      /* forward + backward of every node: the share's denominator */
    double stage_s[GM_STAGE_COUNT];      /* medians of the profiled iterations' stages */
    /* Collection state (bench_profile.c): per iteration and graph node, forward and backward seconds
     * and rows; per iteration the stages. */
    int iters, graph_nodes, added;
    double *samples;
    long *rows;
} gm_bench_profile;

/* What one case measured (medians over the timed iterations unless said otherwise). */
typedef struct gm_bench_result {
    int batch;
    int n_methods;
    gm_method methods[GM_METHOD_COUNT]; /* maps the explainer produces, in gm_method order */
    double ips_median, ips_min, ips_max; /* images per second, end to end */
    double stage_s[GM_STAGE_COUNT];      /* median seconds per iteration */
    double macs_per_image, gflops, gflops_end_to_end;
    double peak_rss_mib, peak_device_mib; /* device: NAN when the backend has no memory of its own */
    double minor_faults_per_iter;
    /* Steady state: per timed iteration the growth of the heap in use (glibc mallinfo2: uordblks +
     * hblkhd, every arena) and the minor page faults, over the whole iteration and over its compute
     * stages alone (forward, backward, maps: post-processing and PNG writing allocate per image). */
    double heap_growth_median, heap_growth_max, heap_growth_compute_median, heap_growth_compute_max;
    double minor_faults_compute_per_iter;
    /* Throughput by scope, medians over the timed iterations: compute = the forward, backward and
     * maps stages; files to maps = the iteration up to its maps, waiting for the loader included
     * (decode and preprocess of the next batch run on the loader thread, overlapping the compute). */
    double compute_ips, files_to_maps_ips;
    double load_wait_s;                  /* median seconds an iteration waited for its batch */
    int loader;                          /* 1: --images through the loader thread */
    gm_bench_profile profile;            /* --profile: filled, else all zero */
    int threads;
    const char *backend_name;            /* "cpu" or "cuda": what --device resolved to */
    char device_line[1024];              /* the backend's describe line */
    const char *check_reference;         /* "cpu fp32", "self" or "skipped" */
    int checked;                         /* agreement[] holds figures (reference "cpu fp32") */
    int maps_finite;                     /* every map of the checked batch is finite */
    gm_map_agreement agreement[GM_METHOD_COUNT]; /* indexed by gm_method */
} gm_bench_result;

/* Runs one case: batch size `batch` of `g` on a backend opened for it (so its peak device memory is
 * this case's), the correctness check first, then warm-up and timed iterations. `paths` lists the
 * --images files (count 0: synthetic images). */
gm_status gm_bench_run_case(const gm_bench_args *a, const gm_graph *g, const gm_path_list *paths, int batch,
                            gm_bench_result *r);
/* Frees what a case result holds (its profile); the result can be reused. */
void gm_bench_result_free(gm_bench_result *r);

/* ---- the per-layer profile (bench_profile.c) ---- */

/* Prepares p for `iters` profiled iterations of g. */
gm_status gm_bench_profile_init(gm_bench_profile *p, const gm_graph *g, int iters);
/* Records one profiled iteration: the engine's per-node totals since profiling was turned on, and
 * the iteration's stage seconds. */
void gm_bench_profile_add(gm_bench_profile *p, const gm_engine_node_time *times, const double *stage);
/* Medians, MACs, GFLOP/s and class totals once every iteration was added (engine: the case's). */
gm_status gm_bench_profile_finish(gm_bench_profile *p, const gm_graph *g, const gm_engine *e);
void gm_bench_profile_free(gm_bench_profile *p);
/* The human-readable table (per node, then per op class) for a case of `batch` images. */
void gm_bench_profile_print(FILE *f, const gm_bench_profile *p, int batch);

/* ---- process memory counters (bench_memory.c) ---- */

/* Resets the kernel's resident high-water mark (ru_maxrss follows it); 0 where refused. */
int gm_bench_reset_peak_rss(void);
double gm_bench_peak_rss_mib(void);
long gm_bench_minor_faults(void);
/* Heap bytes in use, every malloc arena: mallinfo2's uordblks + hblkhd. */
double gm_bench_heap_in_use(void);

/* ---- pieces of a case (bench_images.c, bench_check.c); files are loaded by explain_loader.c ---- */

/* A deterministic synthetic RGB picture of width x height, a function of (seed, index) only. */
gm_status gm_bench_synthetic_image(uint64_t seed, int index, int width, int height, gm_image *out);
/* Resizes (nearest, as keras load_img) and preprocesses n images into input (n x H x W x C). */
gm_status gm_bench_preprocess(const gm_graph *g, const gm_image *images, int n, float *input);

/* The correctness check of a case on its first batch, whose maps the case explainer `x` (on `be`)
 * has just produced in `out` for the n images of `input`: records the maps' finiteness and, unless
 * the check is off or the case is itself cpu fp32, runs the same batch and target classes through a
 * CPU fp32 explainer built with `cfg` and records the agreement of every method's maps in r. */
gm_status gm_bench_check_case(const gm_bench_args *a, const gm_graph *g, const gm_backend *be,
                              const gm_explain_config *cfg, const gm_explainer *x, const float *input, int n,
                              const gm_explain_batch *out, gm_bench_result *r);

/* The machine's own peaks through oneDNN (conv 3x3 fp32 and bf16, sgemm). */
typedef struct gm_bench_peak {
    char conv_shape[96], gemm_shape[64];
    double conv_fp32_gflops, conv_bf16_gflops, sgemm_gflops; /* NAN: not available */
    char conv_fp32_impl[128], conv_bf16_impl[128];
    int threads;
} gm_bench_peak;

gm_status gm_bench_measure_peak(gm_bench_peak *p);

/* One JSON line (no newline inside) per case / for the peaks, appended to `out` and flushed. */
gm_status gm_bench_report_case(FILE *out, const gm_bench_args *a, const gm_bench_result *r);
gm_status gm_bench_report_peak(FILE *out, const gm_bench_peak *p);

#endif
