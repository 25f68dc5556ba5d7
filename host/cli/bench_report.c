/* bench_report.c — the JSON lines of `gradmap bench`, one object per line, written with cJSON
 * (unformatted), and what they say about the machine: CPU model and its relevant ISA flags from
 * /proc/cpuinfo, cores, memory, library versions (oneDNN and HDF5 from the libraries themselves;
 * CUDA, cuDNN and cuBLAS from the CUDA backend's describe line, null on the CPU). Numbers carry 6
 * significant digits; NaN and infinities print as null (cJSON's rule). The field names are a
 * contract with bench/peers/ (see bench/README.md); add fields, never rename them. */
#include <cJSON.h>
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <oneapi/dnnl/dnnl.h>

#include "bench.h"

#ifndef GM_GIT_COMMIT
#define GM_GIT_COMMIT "unknown"
#endif

static double gm_round6(double v) {
    if (!isfinite(v)) return v;
    char buf[32];
    snprintf(buf, sizeof buf, "%.6g", v);
    return strtod(buf, NULL);
}

static void gm_add_number(cJSON *o, const char *key, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, key, gm_round6(v));
    else cJSON_AddNullToObject(o, key);
}

static void gm_add_string_or_null(cJSON *o, const char *key, const char *v) {
    if (v && v[0]) cJSON_AddStringToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);
}

/* The value after "<key>: " of the first /proc/cpuinfo line starting with key. */
static void gm_cpuinfo_field(const char *key, char *buf, size_t size) {
    buf[0] = '\0';
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[16384]; /* the flags line is long */
    size_t klen = strlen(key);
    while (fgets(line, sizeof line, f)) {
        const char *colon = strchr(line, ':');
        if (strncmp(line, key, klen) != 0 || !colon) continue;
        colon += 1 + (colon[1] == ' ');
        snprintf(buf, size, "%.*s", (int)strcspn(colon, "\n"), colon);
        break;
    }
    fclose(f);
}

/* The ISA flags that decide convolution speed, in a fixed order, where the CPU has them. */
static void gm_cpu_flags(char *out, size_t size) {
    static const char *const wanted[] = {"sse4_2",      "avx",         "avx2",        "fma",        "f16c",
                                         "avx_vnni",    "avx512f",     "avx512dq",    "avx512cd",   "avx512bw",
                                         "avx512vl",    "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile",
                                         "amx_bf16",    "amx_int8"};
    char all[8192];
    gm_cpuinfo_field("flags", all, sizeof all);
    size_t used = 0;
    out[0] = '\0';
    for (size_t k = 0; k < sizeof wanted / sizeof wanted[0]; ++k) {
        size_t len = strlen(wanted[k]);
        for (const char *p = all; (p = strstr(p, wanted[k])) != NULL; p += len)
            if ((p == all || p[-1] == ' ') && (p[len] == ' ' || p[len] == '\0')) {
                used += (size_t)snprintf(out + used, used < size ? size - used : 0, "%s%s", used ? " " : "", wanted[k]);
                break;
            }
    }
}

static cJSON *gm_machine_json(int threads) {
    cJSON *m = cJSON_CreateObject();
    char buf[512];
    gm_cpuinfo_field("model name", buf, sizeof buf);
    cJSON_AddStringToObject(m, "cpu", buf[0] ? buf : "unknown CPU");
    gm_cpu_flags(buf, sizeof buf);
    cJSON_AddStringToObject(m, "flags", buf);
    cJSON_AddNumberToObject(m, "cores", (double)sysconf(_SC_NPROCESSORS_ONLN));
    cJSON_AddNumberToObject(m, "threads", threads);
    double bytes = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
    cJSON_AddNumberToObject(m, "memory_gib", round(bytes / 1073741824.0 * 10.0) / 10.0);
    return m;
}

/* The word after `key` in the describe line, up to ';' (or the next space when stop_at_space). */
static void gm_describe_field(const char *line, const char *key, int stop_at_space, char *out, size_t size) {
    out[0] = '\0';
    const char *p = line ? strstr(line, key) : NULL;
    if (!p) return;
    p += strlen(key);
    snprintf(out, size, "%.*s", (int)strcspn(p, stop_at_space ? "; " : ";"), p);
}

static cJSON *gm_libs_json(const char *describe_line) {
    cJSON *l = cJSON_CreateObject();
    char buf[64];
    const dnnl_version_t *v = dnnl_version();
    snprintf(buf, sizeof buf, "%d.%d.%d", v->major, v->minor, v->patch);
    cJSON_AddStringToObject(l, "onednn", buf);
    unsigned maj = 0, min = 0, rel = 0;
    H5get_libversion(&maj, &min, &rel);
    snprintf(buf, sizeof buf, "%u.%u.%u", maj, min, rel);
    cJSON_AddStringToObject(l, "hdf5", buf);
    gm_describe_field(describe_line, "CUDA runtime ", 0, buf, sizeof buf);
    gm_add_string_or_null(l, "cuda", buf);
    gm_describe_field(describe_line, "cuDNN ", 1, buf, sizeof buf);
    gm_add_string_or_null(l, "cudnn", buf);
    gm_describe_field(describe_line, "cuBLAS ", 1, buf, sizeof buf);
    gm_add_string_or_null(l, "cublas", buf);
    return l;
}

static cJSON *gm_header_json(void) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "tool", "gradmap");
    cJSON_AddStringToObject(root, "version", GM_VERSION);
    cJSON_AddStringToObject(root, "git", GM_GIT_COMMIT);
    return root;
}

static gm_status gm_emit(FILE *out, cJSON *root) {
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!text) return gm_error(GM_ERR_NOMEM, "out of memory printing the bench JSON");
    int bad = fprintf(out, "%s\n", text) < 0 || fflush(out) != 0;
    cJSON_free(text);
    return bad ? gm_error(GM_ERR_IO, "cannot write the bench JSON line") : GM_OK;
}

static cJSON *gm_case_json(const gm_bench_args *a, const gm_bench_result *r) {
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "model", a->model_path ? a->model_path : a->arch);
    gm_add_string_or_null(c, "arch", a->arch);
    char buf[128];
    snprintf(buf, sizeof buf, "random(seed=%llu)", (unsigned long long)a->seed);
    cJSON_AddStringToObject(c, "weights", a->model_path ? "file" : buf);
    cJSON *methods = cJSON_AddArrayToObject(c, "methods");
    for (int k = 0; k < r->n_methods; ++k)
        cJSON_AddItemToArray(methods, cJSON_CreateString(gm_method_name(r->methods[k])));
    cJSON_AddNumberToObject(c, "batch", r->batch);
    cJSON_AddStringToObject(c, "device", r->backend_name);
    cJSON_AddStringToObject(c, "precision", gm_precision_name(a->precision));
    cJSON_AddStringToObject(c, "conv_algo", gm_conv_algo_name(a->conv_algo));
    char images[1024] = "synthetic";
    for (int i = 0, used = 0; i < a->n_images && used < (int)sizeof images; ++i)
        used += snprintf(images + used, sizeof images - (size_t)used, "%s%s", i ? "," : "", a->images[i]);
    cJSON_AddStringToObject(c, "images", images);
    cJSON_AddNumberToObject(c, "iters", a->iters);
    cJSON_AddNumberToObject(c, "warmup", a->warmup);
    return c;
}

/* check: per method the agreement figures, or nulls when nothing was compared. */
static cJSON *gm_check_json(const gm_bench_result *r) {
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "reference", r->check_reference);
    const char *keys[3] = {"max_abs_err", "max_abs_err_normalized", "spearman"};
    for (int f = 0; f < 3; ++f) {
        cJSON *o = cJSON_AddObjectToObject(c, keys[f]);
        for (int k = 0; k < r->n_methods; ++k) {
            const gm_map_agreement *ag = &r->agreement[r->methods[k]];
            double v = f == 0 ? ag->max_abs_err : f == 1 ? ag->max_abs_err_normalized : ag->spearman_min;
            gm_add_number(o, gm_method_name(r->methods[k]), r->checked ? v : NAN);
        }
    }
    cJSON_AddBoolToObject(c, "maps_finite", r->maps_finite);
    return c;
}

/* --profile: "profile" (per node), "profile_classes" (per op class, by time) and "profile_stages_s"
 * (the profiled iterations' stage medians, which contain the nodes' times). Times in ms; MACs per
 * image and pass; GFLOP/s null where there are no MACs; share = of every node's time together. */
static void gm_profile_json(cJSON *root, const gm_bench_profile *p) {
    double total = p->total_s > 0.0 ? p->total_s : 1.0;
    cJSON *nodes = cJSON_AddArrayToObject(root, "profile");
    for (int k = 0; k < p->n_nodes; ++k) {
        const gm_bench_node_profile *n = &p->nodes[k];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "node", n->node);
        cJSON_AddStringToObject(o, "name", n->name);
        cJSON_AddStringToObject(o, "class", n->op_class);
        cJSON *shape = cJSON_AddArrayToObject(o, "shape");
        if (n->rank == 4) {
            cJSON_AddItemToArray(shape, cJSON_CreateNumber(n->h));
            cJSON_AddItemToArray(shape, cJSON_CreateNumber(n->w));
        }
        cJSON_AddItemToArray(shape, cJSON_CreateNumber(n->c));
        gm_add_number(o, "forward_ms", n->forward_s * 1e3);
        gm_add_number(o, "backward_ms", n->backward_s * 1e3);
        cJSON_AddNumberToObject(o, "macs", n->forward_macs);
        cJSON_AddNumberToObject(o, "backward_macs", n->backward_macs);
        gm_add_number(o, "forward_gflops", n->forward_gflops);
        gm_add_number(o, "backward_gflops", n->backward_gflops);
        gm_add_number(o, "share", (n->forward_s + n->backward_s) / total);
        cJSON_AddItemToArray(nodes, o);
    }
    cJSON *classes = cJSON_AddArrayToObject(root, "profile_classes");
    for (int k = 0; k < p->n_classes; ++k) {
        const gm_bench_class_profile *c = &p->classes[k];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "class", c->op_class);
        cJSON_AddNumberToObject(o, "nodes", c->nodes);
        gm_add_number(o, "forward_ms", c->forward_s * 1e3);
        gm_add_number(o, "backward_ms", c->backward_s * 1e3);
        gm_add_number(o, "share", (c->forward_s + c->backward_s) / total);
        gm_add_number(o, "forward_gflops", c->forward_gflops);
        gm_add_number(o, "backward_gflops", c->backward_gflops);
        gm_add_number(o, "gflops", c->gflops);
        cJSON_AddItemToArray(classes, o);
    }
    cJSON *stages = cJSON_AddObjectToObject(root, "profile_stages_s");
    for (int s = 0; s < GM_STAGE_COUNT; ++s)
        gm_add_number(stages, gm_bench_stage_name((gm_bench_stage)s), p->stage_s[s]);
}

gm_status gm_bench_report_case(FILE *out, const gm_bench_args *a, const gm_bench_result *r) {
    cJSON *root = gm_header_json();
    cJSON_AddItemToObject(root, "case", gm_case_json(a, r));
    cJSON_AddItemToObject(root, "machine", gm_machine_json(r->threads));
    cJSON_AddStringToObject(root, "device", r->device_line);
    cJSON_AddItemToObject(root, "libs", gm_libs_json(r->device_line));
    cJSON *ips = cJSON_AddObjectToObject(root, "images_per_s");
    gm_add_number(ips, "median", r->ips_median);
    gm_add_number(ips, "min", r->ips_min);
    gm_add_number(ips, "max", r->ips_max);
    cJSON *stages = cJSON_AddObjectToObject(root, "stages_s");
    for (int s = 0; s < GM_STAGE_COUNT; ++s) gm_add_number(stages, gm_bench_stage_name((gm_bench_stage)s), r->stage_s[s]);
    cJSON_AddNumberToObject(root, "macs_per_image", r->macs_per_image); /* an integer: printed exactly */
    gm_add_number(root, "gflops", r->gflops);
    gm_add_number(root, "gflops_end_to_end", r->gflops_end_to_end);
    gm_add_number(root, "peak_rss_mib", r->peak_rss_mib);
    gm_add_number(root, "peak_device_mib", r->peak_device_mib);
    gm_add_number(root, "minor_faults_per_iter", r->minor_faults_per_iter);
    gm_add_number(root, "minor_faults_per_iter_compute", r->minor_faults_compute_per_iter);
    cJSON *heap = cJSON_AddObjectToObject(root, "heap_growth_bytes_per_iter");
    gm_add_number(heap, "median", r->heap_growth_median);
    gm_add_number(heap, "max", r->heap_growth_max);
    gm_add_number(heap, "compute_median", r->heap_growth_compute_median);
    gm_add_number(heap, "compute_max", r->heap_growth_compute_max);
    gm_add_number(root, "compute_images_per_s", r->compute_ips);
    gm_add_number(root, "files_to_maps_images_per_s", r->files_to_maps_ips);
    gm_add_number(root, "load_wait_s", r->load_wait_s);
    cJSON_AddNumberToObject(root, "loader_threads", r->loader);
    cJSON_AddItemToObject(root, "check", gm_check_json(r));
    if (r->profile.n_nodes > 0) gm_profile_json(root, &r->profile);
    return gm_emit(out, root);
}

gm_status gm_bench_report_peak(FILE *out, const gm_bench_peak *p) {
    cJSON *root = gm_header_json();
    cJSON *k = cJSON_AddObjectToObject(root, "peak");
    cJSON_AddStringToObject(k, "conv_shape", p->conv_shape);
    gm_add_number(k, "conv3x3_fp32_gflops", p->conv_fp32_gflops);
    cJSON_AddStringToObject(k, "conv3x3_fp32_impl", p->conv_fp32_impl);
    gm_add_number(k, "conv3x3_bf16_gflops", p->conv_bf16_gflops);
    cJSON_AddStringToObject(k, "conv3x3_bf16_impl", p->conv_bf16_impl);
    cJSON_AddStringToObject(k, "sgemm_shape", p->gemm_shape);
    gm_add_number(k, "sgemm_gflops", p->sgemm_gflops);
    cJSON_AddItemToObject(root, "machine", gm_machine_json(p->threads));
    cJSON_AddItemToObject(root, "libs", gm_libs_json(NULL));
    return gm_emit(out, root);
}
