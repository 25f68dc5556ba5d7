/* cpu_describe.c — the CPU backend's `describe`: CPU model (from /proc/cpuinfo), the instruction
 * set oneDNN dispatches to, threads, and the oneDNN version, one line for `gradmap info`, the
 * bench JSON and results provenance. */
#include "cpu_internal.h"

#include <omp.h>
#include <stdio.h>
#include <string.h>

static const char *gm_cpu_isa_name(dnnl_cpu_isa_t isa) {
    switch (isa) {
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_sse41: return "sse41";
    default: return "other";
    }
}

/* "model name : ..." of the first processor, or "unknown CPU". */
static void gm_cpu_model(char *buf, size_t size) {
    snprintf(buf, size, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0) continue;
        const char *colon = strchr(line, ':');
        if (!colon) continue;
        colon += 1 + (colon[1] == ' ');
        snprintf(buf, size, "%.*s", (int)strcspn(colon, "\n"), colon);
        break;
    }
    fclose(f);
}

gm_status gm_cpu_describe(gm_backend *be, char *buf, size_t size) {
    if (!be || !buf || size == 0) return gm_error(GM_ERR_INVALID_ARG, "cpu describe: NULL argument");
    char model[256];
    gm_cpu_model(model, sizeof model);
    const dnnl_version_t *v = dnnl_version();
    const gm_cpu_backend *cb = gm_cpu_cast(be);
    snprintf(buf, size, "cpu %s; %s; %d threads; oneDNN %d.%d.%d; precision %s; convolutions %s", model,
             gm_cpu_isa_name(dnnl_get_effective_cpu_isa()), omp_get_max_threads(), v->major, v->minor, v->patch,
             gm_precision_name(cb->precision),
             cb->precision == GM_PRECISION_BF16
                 ? (cb->fp32_forward ? "fp32 forward, bf16 backward-data" : "bf16 operands")
             : cb->conv_algo == GM_CONV_ALGO_DIRECT   ? "direct"
             : cb->conv_algo == GM_CONV_ALGO_WINOGRAD ? "winograd where eligible"
                                                      : "direct forward, winograd backward-data where eligible");
    return GM_OK;
}
