/* bench_args.c — option parsing and help text of `gradmap bench`. Every default is stated in the
 * help; usage mistakes are GM_ERR_INVALID_ARG (exit status 2). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "weights/arch_builtin.h"

void gm_bench_usage(FILE *f) {
    fprintf(f,
            "usage: gradmap bench (--arch ARCH | --model FILE.h5 [--arch ARCH]) [options]\n"
            "       gradmap bench --peak [--threads N] [--json FILE]\n"
            "\n"
            "Measures explanation throughput, one JSON line per batch size (case) on stdout or --json FILE:\n"
            "images/s (median, min, max, end to end), median seconds per stage (decode, preprocess, forward,\n"
            "backward, maps, post, write), GFLOP/s from the graph's multiply-accumulates, peak memory,\n"
            "minor page faults, threads, the machine, device, library versions and git commit. Before\n"
            "timing, the first batch is checked against the CPU fp32 reference (max abs error raw and\n"
            "after min-max normalising each map, Spearman rank correlation); a cpu fp32 case is its own\n"
            "reference (\"self\"). A one-line summary per case goes to stderr. Speed is never asserted.\n"
            "\n"
            "  --arch ARCH        %s; without --model: seeded random weights (He-normal kernels,\n"
            "                     BatchNormalization near the identity, folded), no file needed\n"
            "  --model FILE.h5    a Keras model file (weights-only files need --arch)\n"
            "  --method LIST      comma-separated methods as in gradmap explain (default saliency,gradcam)\n"
            "  --batch LIST       comma-separated batch sizes, one case each (default 8)\n"
            "  --device DEV       auto (default), cpu or cuda (exit status 10 when no GPU is usable)\n"
            "  --precision P      fp32 (default), tf32, fp16 or bf16 (tf32/fp16 need cuda; bf16 runs on cuda\n"
            "                     or on CPUs with AVX-512 BF16/AMX; input-gradient methods keep the CPU\n"
            "                     forward in fp32, see gradmap explain --help)\n"
            "  --conv-algo A      auto (default), direct, winograd or winograd-bwd: CPU fp32 convolutions\n"
            "                     (auto = direct forward, Winograd backward-data where eligible)\n"
            "  --images INPUT     image folder, file or .txt list (repeatable), cycled through; a loader\n"
            "                     thread (one, beside the compute's threads) decodes, resizes and\n"
            "                     preprocesses the next batch while this one is computed, as gradmap\n"
            "                     explain does (default: synthetic images at the model's input size,\n"
            "                     seeded, preprocessed inline; decode 0)\n"
            "  --iters N          timed iterations per case, one batch each (default 5)\n"
            "  --warmup N         untimed iterations first (default 1)\n"
            "  --threads N        CPU threads (default: all cores, or OMP_NUM_THREADS)\n"
            "  --seed S           seed of the random weights and synthetic images (default 0)\n"
            "  --json FILE        append the JSON lines to FILE instead of stdout\n"
            "  --no-check         skip the correctness check (reported as \"skipped\")\n"
            "  --peak             also measure the machine's peaks through oneDNN: 3x3 convolution fp32\n"
            "                     and bf16 (with the implementation oneDNN picked) and sgemm, one JSON line\n"
            "  --profile          per-layer profile: after the timed iterations, 2 more with the backend\n"
            "                     synchronised after every layer; per layer the median forward and\n"
            "                     backward ms, op class (conv3x3, conv1x1s2, dense, maxpool, add, ...),\n"
            "                     output shape, MACs per image, GFLOP/s and share of the pass, then totals\n"
            "                     per op class: a table on stderr and \"profile\", \"profile_classes\" and\n"
            "                     \"profile_stages_s\" in the JSON line (the timed figures are unaffected)\n"
            "\n"
            "Each iteration: (decode, preprocess,) forward, backward, method maps, post-processing (normalise,\n"
            "resize to the image's size, jet overlay at 0.4, in memory) and writing (PNG encoding of each\n"
            "overlay into a temporary folder under $TMPDIR or /tmp, removed afterwards). Besides the end-to-end\n"
            "images/s, the line gives compute_images_per_s (forward, backward and maps stages only) and\n"
            "files_to_maps_images_per_s (the iteration up to its maps, waiting for the loader included), and\n"
            "the steady state per timed iteration: heap growth (glibc mallinfo2, in use) and minor page\n"
            "faults, over the whole iteration and over its compute stages alone.\n",
            gm_arch_names());
}

const char *gm_bench_stage_name(gm_bench_stage s) {
    static const char *const names[GM_STAGE_COUNT] = {"decode", "preprocess", "forward", "backward",
                                                      "maps",   "post",       "write"};
    return s < GM_STAGE_COUNT ? names[s] : "?";
}

static gm_status gm_parse_batches(const char *text, gm_bench_args *a) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", text);
    a->n_batches = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (a->n_batches == GM_BENCH_MAX_BATCHES)
            return gm_error(GM_ERR_INVALID_ARG, "--batch: at most %d batch sizes", GM_BENCH_MAX_BATCHES);
        GM_TRY(gm_cli_parse_int("--batch", tok, 1, 4096, &a->batches[a->n_batches++]));
    }
    if (a->n_batches == 0) return gm_error(GM_ERR_INVALID_ARG, "--batch: no batch size given");
    return GM_OK;
}

static gm_status gm_parse_seed(const char *text, uint64_t *seed) {
    char *end = NULL;
    errno = 0;
    unsigned long long v = text && text[0] != '-' ? strtoull(text, &end, 10) : 0;
    if (!text || text[0] == '-' || errno || end == text || *end)
        return gm_error(GM_ERR_INVALID_ARG, "--seed: '%s' is not a non-negative integer", text ? text : "");
    *seed = (uint64_t)v;
    return GM_OK;
}

gm_status gm_bench_args_parse(int argc, char **argv, gm_bench_args *a, int *help) {
    memset(a, 0, sizeof *a);
    a->device = "auto";
    a->methods = (1u << GM_METHOD_SALIENCY) | (1u << GM_METHOD_GRADCAM);
    a->batches[0] = 8;
    a->n_batches = 1;
    a->iters = 5;
    a->warmup = 1;
    a->check = 1;
    *help = 0;
    for (int i = 1; i < argc; ++i) {
        const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            *help = 1;
            return GM_OK;
        }
        if (!strcmp(arg, "--no-check")) {
            a->check = 0;
            continue;
        }
        if (!strcmp(arg, "--peak")) {
            a->peak = 1;
            continue;
        }
        if (!strcmp(arg, "--profile")) {
            a->profile = 1;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0)
            return gm_error(GM_ERR_INVALID_ARG, "unexpected argument '%s' (see gradmap bench --help)", arg);
        if (!val)
            return gm_error(GM_ERR_INVALID_ARG, "unknown option or missing value: %s (see gradmap bench --help)", arg);
        if (!strcmp(arg, "--arch")) a->arch = val;
        else if (!strcmp(arg, "--model")) a->model_path = val;
        else if (!strcmp(arg, "--method")) GM_TRY(gm_method_parse_list(val, &a->methods));
        else if (!strcmp(arg, "--batch")) GM_TRY(gm_parse_batches(val, a));
        else if (!strcmp(arg, "--device")) {
            if (strcmp(val, "auto") && strcmp(val, "cpu") && strcmp(val, "cuda"))
                return gm_error(GM_ERR_INVALID_ARG, "--device '%s': expected auto, cpu or cuda", val);
            a->device = val;
        } else if (!strcmp(arg, "--precision")) GM_TRY(gm_precision_parse(val, &a->precision));
        else if (!strcmp(arg, "--conv-algo")) GM_TRY(gm_conv_algo_parse(val, &a->conv_algo));
        else if (!strcmp(arg, "--images")) {
            if (a->n_images == (int)(sizeof a->images / sizeof a->images[0]))
                return gm_error(GM_ERR_INVALID_ARG, "--images: at most 64 inputs (use a folder or a list file)");
            a->images[a->n_images++] = argv[i + 1];
        } else if (!strcmp(arg, "--iters")) GM_TRY(gm_cli_parse_int(arg, val, 1, 1000000, &a->iters));
        else if (!strcmp(arg, "--warmup")) GM_TRY(gm_cli_parse_int(arg, val, 0, 1000000, &a->warmup));
        else if (!strcmp(arg, "--threads")) GM_TRY(gm_cli_parse_int(arg, val, 1, 4096, &a->threads));
        else if (!strcmp(arg, "--seed")) GM_TRY(gm_parse_seed(val, &a->seed));
        else if (!strcmp(arg, "--json")) a->json_path = val;
        else return gm_error(GM_ERR_INVALID_ARG, "unknown option: %s (see gradmap bench --help)", arg);
        ++i;
    }
    if (!a->arch && !a->model_path && !a->peak)
        return gm_error(GM_ERR_INVALID_ARG,
                        "bench needs --arch ARCH or --model FILE.h5, or --peak (see gradmap bench --help)");
    return GM_OK;
}
