/* bench_peak.c — the machine's own peaks for the kernels that dominate explanations, measured
 * through oneDNN so that bench results can be read as a fraction of what this machine can do:
 *   - a 3x3 convolution, N=8, 56x56, 256 -> 256 channels, stride 1, pad 1 (a ResNet/VGG middle
 *     layer), forward inference, direct algorithm (as the CPU backend uses), every tensor in the
 *     layout oneDNN prefers (format `any`), in fp32 and in bf16 (fp32 accumulation; oneDNN picks AMX
 *     where the CPU has it — the implementation name it chose is reported);
 *   - dnnl_sgemm, 2048 x 2048 x 2048, row-major.
 * Each figure is the median of GM_PEAK_REPEATS timed runs after one warm-up run. A primitive this
 * CPU cannot run (bf16 without AVX-512 BF16 or AMX) is reported as unavailable (NAN), not as an
 * error. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>

#include "bench.h"

#define GM_PEAK_REPEATS 5
#define GM_PEAK_GEMM 2048

enum { GM_PEAK_N = 8, GM_PEAK_HW = 56, GM_PEAK_C = 256, GM_PEAK_K = 3 };

static gm_status gm_peak_dnnl(dnnl_status_t s, const char *what) {
    if (s == dnnl_success) return GM_OK;
    return gm_error(GM_ERR_BACKEND, "bench --peak: %s failed (oneDNN status %d)", what, (int)s);
}

/* Fills a buffer of `bytes` with small values of type dt (f32 or bf16), so no denormals appear. */
static void gm_peak_fill(void *data, size_t bytes, dnnl_data_type_t dt) {
    if (dt == dnnl_bf16) {
        uint16_t *p = data;
        for (size_t i = 0; i < bytes / 2; ++i) {
            float f = 0.01f * (float)(i % 17) - 0.08f;
            uint32_t bits;
            memcpy(&bits, &f, sizeof bits);
            p[i] = (uint16_t)(bits >> 16);
        }
    } else {
        float *p = data;
        for (size_t i = 0; i < bytes / 4; ++i) p[i] = 0.01f * (float)(i % 17) - 0.08f;
    }
}

typedef struct gm_peak_conv {
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    dnnl_memory_t mem[3]; /* src, weights, dst */
} gm_peak_conv;

static void gm_peak_conv_free(gm_peak_conv *c) {
    for (int i = 0; i < 3; ++i)
        if (c->mem[i]) dnnl_memory_destroy(c->mem[i]);
    if (c->prim) dnnl_primitive_destroy(c->prim);
    if (c->pd) dnnl_primitive_desc_destroy(c->pd);
}

/* Builds the convolution; *supported = 0 when oneDNN has no implementation for dt here. */
static gm_status gm_peak_conv_build(gm_peak_conv *c, dnnl_engine_t eng, dnnl_data_type_t dt, int *supported) {
    dnnl_dims_t act = {GM_PEAK_N, GM_PEAK_C, GM_PEAK_HW, GM_PEAK_HW};
    dnnl_dims_t wei = {GM_PEAK_C, GM_PEAK_C, GM_PEAK_K, GM_PEAK_K};
    dnnl_dims_t strides = {1, 1}, pad = {1, 1};
    dnnl_memory_desc_t src_md, wei_md, dst_md;
    GM_TRY(gm_peak_dnnl(dnnl_memory_desc_init_by_tag(&src_md, 4, act, dt, dnnl_format_tag_any), "src desc"));
    GM_TRY(gm_peak_dnnl(dnnl_memory_desc_init_by_tag(&wei_md, 4, wei, dt, dnnl_format_tag_any), "weights desc"));
    GM_TRY(gm_peak_dnnl(dnnl_memory_desc_init_by_tag(&dst_md, 4, act, dt, dnnl_format_tag_any), "dst desc"));
    dnnl_convolution_desc_t cd;
    GM_TRY(gm_peak_dnnl(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, &src_md,
                                                           &wei_md, NULL, &dst_md, strides, pad, pad),
                        "convolution desc"));
    *supported = dnnl_primitive_desc_create(&c->pd, &cd, NULL, eng, NULL) == dnnl_success;
    if (!*supported) {
        c->pd = NULL;
        return GM_OK;
    }
    const dnnl_query_t which[3] = {dnnl_query_src_md, dnnl_query_weights_md, dnnl_query_dst_md};
    for (int i = 0; i < 3; ++i) {
        const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(c->pd, which[i], 0);
        GM_TRY(gm_peak_dnnl(dnnl_memory_create(&c->mem[i], md, eng, DNNL_MEMORY_ALLOCATE), "memory"));
        void *data = NULL;
        GM_TRY(gm_peak_dnnl(dnnl_memory_get_data_handle(c->mem[i], &data), "memory handle"));
        gm_peak_fill(data, dnnl_memory_desc_get_size(md), dt);
    }
    return gm_peak_dnnl(dnnl_primitive_create(&c->prim, c->pd), "convolution primitive");
}

static gm_status gm_peak_conv_time(gm_peak_conv *c, dnnl_stream_t strm, double *seconds) {
    dnnl_exec_arg_t args[3] = {
        {DNNL_ARG_SRC, c->mem[0]}, {DNNL_ARG_WEIGHTS, c->mem[1]}, {DNNL_ARG_DST, c->mem[2]}};
    double t[GM_PEAK_REPEATS];
    for (int r = -1; r < GM_PEAK_REPEATS; ++r) {
        double t0 = gm_cli_now();
        GM_TRY(gm_peak_dnnl(dnnl_primitive_execute(c->prim, strm, 3, args), "convolution"));
        GM_TRY(gm_peak_dnnl(dnnl_stream_wait(strm), "stream wait"));
        if (r >= 0) t[r] = gm_cli_now() - t0;
    }
    *seconds = gm_cli_median(t, GM_PEAK_REPEATS);
    return GM_OK;
}

static gm_status gm_peak_conv_measure(dnnl_engine_t eng, dnnl_stream_t strm, dnnl_data_type_t dt, double *gflops,
                                      char *impl, size_t impl_size) {
    gm_peak_conv c = {0};
    int supported = 0;
    double seconds = 0.0;
    gm_status st = gm_peak_conv_build(&c, eng, dt, &supported);
    *gflops = NAN;
    snprintf(impl, impl_size, "unsupported");
    if (st == GM_OK && supported) {
        const char *name = NULL;
        if (dnnl_primitive_desc_query(c.pd, dnnl_query_impl_info_str, 0, &name) == dnnl_success && name)
            snprintf(impl, impl_size, "%s", name);
        st = gm_peak_conv_time(&c, strm, &seconds);
        double flops = 2.0 * GM_PEAK_N * GM_PEAK_HW * GM_PEAK_HW * (double)GM_PEAK_C * GM_PEAK_C * GM_PEAK_K * GM_PEAK_K;
        if (st == GM_OK) *gflops = flops / seconds / 1e9;
    }
    gm_peak_conv_free(&c);
    return st;
}

static gm_status gm_peak_sgemm(double *gflops) {
    const size_t n = GM_PEAK_GEMM;
    float *A = malloc(n * n * sizeof *A), *B = malloc(n * n * sizeof *B), *C = malloc(n * n * sizeof *C);
    gm_status st = A && B && C ? GM_OK : gm_error(GM_ERR_NOMEM, "bench --peak: out of memory for sgemm");
    if (st == GM_OK) {
        gm_peak_fill(A, n * n * sizeof *A, dnnl_f32);
        gm_peak_fill(B, n * n * sizeof *B, dnnl_f32);
    }
    double t[GM_PEAK_REPEATS];
    for (int r = -1; st == GM_OK && r < GM_PEAK_REPEATS; ++r) {
        double t0 = gm_cli_now();
        st = gm_peak_dnnl(dnnl_sgemm('N', 'N', (dnnl_dim_t)n, (dnnl_dim_t)n, (dnnl_dim_t)n, 1.0f, A, (dnnl_dim_t)n, B,
                                     (dnnl_dim_t)n, 0.0f, C, (dnnl_dim_t)n),
                          "sgemm");
        if (r >= 0) t[r] = gm_cli_now() - t0;
    }
    if (st == GM_OK) *gflops = 2.0 * (double)n * n * n / gm_cli_median(t, GM_PEAK_REPEATS) / 1e9;
    free(A);
    free(B);
    free(C);
    return st;
}

gm_status gm_bench_measure_peak(gm_bench_peak *p) {
    memset(p, 0, sizeof *p);
    p->conv_fp32_gflops = p->conv_bf16_gflops = p->sgemm_gflops = NAN;
    snprintf(p->conv_shape, sizeof p->conv_shape, "N=%d %dx%dx%d -> %d, %dx%d, stride 1, pad 1", GM_PEAK_N, GM_PEAK_HW,
             GM_PEAK_HW, GM_PEAK_C, GM_PEAK_C, GM_PEAK_K, GM_PEAK_K);
    snprintf(p->gemm_shape, sizeof p->gemm_shape, "%d x %d x %d", GM_PEAK_GEMM, GM_PEAK_GEMM, GM_PEAK_GEMM);
    p->threads = omp_get_max_threads();
    dnnl_engine_t eng = NULL;
    dnnl_stream_t strm = NULL;
    gm_status st = gm_peak_dnnl(dnnl_engine_create(&eng, dnnl_cpu, 0), "engine");
    if (st == GM_OK) st = gm_peak_dnnl(dnnl_stream_create(&strm, eng, dnnl_stream_default_flags), "stream");
    if (st == GM_OK)
        st = gm_peak_conv_measure(eng, strm, dnnl_f32, &p->conv_fp32_gflops, p->conv_fp32_impl, sizeof p->conv_fp32_impl);
    if (st == GM_OK)
        st = gm_peak_conv_measure(eng, strm, dnnl_bf16, &p->conv_bf16_gflops, p->conv_bf16_impl,
                                  sizeof p->conv_bf16_impl);
    if (st == GM_OK) st = gm_peak_sgemm(&p->sgemm_gflops);
    if (strm) dnnl_stream_destroy(strm);
    if (eng) dnnl_engine_destroy(eng);
    return st;
}
