/* cmd_bench.c — `gradmap bench`: builds or loads the model once, then runs one case per batch size
 * (bench_case.c) and prints a JSON line for each (bench_report.c) to stdout or appends it to --json
 * FILE; --peak adds the machine's own peaks (bench_peak.c). stdout carries JSON lines only; the
 * human-readable one-line summaries go to stderr. The device is opened once before the model is
 * built, so that a missing GPU (exit status 10) or an unsupported precision (5) is reported at once. */
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "weights/arch_builtin.h"
#include "weights/model.h"

static gm_status gm_bench_probe_device(const gm_bench_args *a) {
    gm_backend_config bc = {.threads = a->threads,
                            .precision = a->precision,
                            .conv_algo = a->conv_algo,
                            .fp32_forward = gm_methods_need_exact_forward(a->methods)};
    gm_backend *be = NULL;
    GM_TRY(gm_backend_open(a->device, &bc, &be));
    gm_backend_close(&be);
    return GM_OK;
}

static gm_status gm_bench_load_model(const gm_bench_args *a, gm_graph **g) {
    if (a->model_path) {
        gm_model_options opts;
        gm_model_options_default(&opts);
        opts.arch = a->arch;
        GM_TRY(gm_model_load(a->model_path, &opts, g));
    } else {
        GM_TRY(gm_arch_build_random(a->arch, a->seed, g));
    }
    if ((*g)->input_c != 3)
        return gm_error(GM_ERR_UNSUPPORTED, "%s: the model takes %d-channel input; gradmap feeds RGB images (3 channels)",
                        a->model_path ? a->model_path : a->arch, (*g)->input_c);
    return GM_OK;
}

static void gm_bench_summary(const gm_bench_args *a, const gm_bench_result *r) {
    char methods[256] = "";
    for (int k = 0, used = 0; k < r->n_methods && used < (int)sizeof methods; ++k)
        used += snprintf(methods + used, sizeof methods - (size_t)used, "%s%s", k ? "," : "",
                         gm_method_name(r->methods[k]));
    fprintf(stderr,
            "gradmap bench: %s %s batch %d %s %s: %.2f images/s (min %.2f, max %.2f), %.1f GFLOP/s compute, "
            "%.1f end to end, check %s\n",
            a->model_path ? a->model_path : a->arch, methods, r->batch, r->backend_name, gm_precision_name(a->precision),
            r->ips_median, r->ips_min, r->ips_max, r->gflops, r->gflops_end_to_end, r->check_reference);
    fprintf(stderr,
            "gradmap bench:   compute %.2f images/s, files to maps %.2f images/s (%.0f%% of compute; %s), "
            "waited %.1f ms for the batch; per iteration: heap growth %+.0f B (max %+.0f), compute stages %+.0f B "
            "(max %+.0f); minor faults %.0f, compute stages %.0f\n",
            r->compute_ips, r->files_to_maps_ips, 100.0 * r->files_to_maps_ips / r->compute_ips,
            r->loader ? "files decoded by the loader thread" : "synthetic images preprocessed inline",
            r->load_wait_s * 1e3, r->heap_growth_median, r->heap_growth_max, r->heap_growth_compute_median,
            r->heap_growth_compute_max, r->minor_faults_per_iter, r->minor_faults_compute_per_iter);
    if (r->profile.n_nodes > 0) gm_bench_profile_print(stderr, &r->profile, r->batch);
}

static gm_status gm_bench_cases(const gm_bench_args *a, FILE *out) {
    gm_graph *g = NULL;
    gm_path_list paths = {0};
    gm_status st = gm_bench_probe_device(a);
    if (st == GM_OK && a->n_images > 0) st = gm_cli_expand_inputs((char **)a->images, a->n_images, &paths);
    if (st == GM_OK) st = gm_bench_load_model(a, &g);
    for (int i = 0; st == GM_OK && i < a->n_batches; ++i) {
        gm_bench_result r;
        st = gm_bench_run_case(a, g, &paths, a->batches[i], &r);
        if (st == GM_OK) st = gm_bench_report_case(out, a, &r);
        if (st == GM_OK) gm_bench_summary(a, &r);
        gm_bench_result_free(&r);
    }
    gm_path_list_free(&paths);
    gm_graph_free(&g);
    return st;
}

static gm_status gm_bench_peaks(FILE *out) {
    gm_bench_peak p;
    GM_TRY(gm_bench_measure_peak(&p));
    GM_TRY(gm_bench_report_peak(out, &p));
    fprintf(stderr,
            "gradmap bench: peaks on %d threads: conv3x3 fp32 %.1f GFLOP/s (%s), bf16 %.1f GFLOP/s (%s), "
            "sgemm %.1f GFLOP/s\n",
            p.threads, p.conv_fp32_gflops, p.conv_fp32_impl, p.conv_bf16_gflops, p.conv_bf16_impl, p.sgemm_gflops);
    return GM_OK;
}

int gm_cmd_bench(int argc, char **argv) {
    gm_bench_args a;
    int help = 0;
    gm_status st = gm_bench_args_parse(argc, argv, &a, &help);
    if (st != GM_OK) return gm_cli_fail(st);
    if (help) {
        gm_bench_usage(stdout);
        return 0;
    }
    /* The peaks run oneDNN directly, outside any backend: they follow --threads here. */
    if (a.threads > 0) omp_set_num_threads(a.threads);
    FILE *out = stdout;
    if (a.json_path && !(out = fopen(a.json_path, "a"))) {
        st = gm_error(GM_ERR_IO, "--json %s: cannot open for appending", a.json_path);
        return gm_cli_fail(st);
    }
    if (a.peak) st = gm_bench_peaks(out);
    if (st == GM_OK && (a.arch || a.model_path)) st = gm_bench_cases(&a, out);
    if (out != stdout && fclose(out) != 0 && st == GM_OK)
        st = gm_error(GM_ERR_IO, "--json %s: cannot write", a.json_path);
    return st == GM_OK ? 0 : gm_cli_fail(st);
}
