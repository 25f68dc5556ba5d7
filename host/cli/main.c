/* main.c — the gradmap command-line tool: dispatches to subcommands (predict, explain, info,
 * bench, audit) and owns the process exit code. Exit codes: 0 success, 1 some items failed, 2 bad usage,
 * and the per-status codes of host/status.c (3 i/o, 4 format, 5 unsupported, 6 shape, 7 not
 * found, 8 memory, 9 backend, 10 no device). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void gm_usage(FILE *f) {
    fprintf(f,
            "gradmap %s — explain image-classifier CNNs (Keras HDF5) in batches, on CPU or GPU\n"
            "\n"
            "usage: gradmap <command> [options]\n"
            "\n"
            "commands:\n"
            "  predict MODEL INPUT...   top-K classes for images (files, folders, lists of paths)\n"
            "  explain MODEL INPUT...   saliency / Grad-CAM family maps for images: results.h5, PNGs, CSV\n"
            "  info MODEL               layers, shapes, parameters, multiply-accumulates, target layer\n"
            "  bench --arch A|--model F images/s, GFLOP/s, memory per method and batch size (JSON lines)\n"
            "  audit MODEL DATA         where the model looks across a labelled dataset, per class; flags\n"
            "                           shortcut classes (SpRAy); report.html, audit.h5, CSVs\n"
            "\n"
            "  gradmap <command> --help   options of a command\n"
            "  gradmap --version          version\n",
            GM_VERSION);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        gm_usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        gm_usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("gradmap %s\n", GM_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "predict")) return gm_cmd_predict(argc - 1, argv + 1);
    if (!strcmp(cmd, "info")) return gm_cmd_info(argc - 1, argv + 1);
    if (!strcmp(cmd, "explain")) return gm_cmd_explain(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench")) return gm_cmd_bench(argc - 1, argv + 1);
    if (!strcmp(cmd, "audit")) return gm_cmd_audit(argc - 1, argv + 1);
    fprintf(stderr, "gradmap: unknown command '%s'\n\n", cmd);
    gm_usage(stderr);
    return 2;
}
